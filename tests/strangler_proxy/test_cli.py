"""`figkit routes ...` and `figkit proxy check` against a real admin API, and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strangler_proxy.cli import proxy_app, routes_app
from tests.strangler_proxy import servers
from tests.strangler_proxy.conftest import ADMIN_SECRET, READ_SECRET
from tests.strangler_proxy.test_admin_api import serve_admin_api

runner = CliRunner()


@pytest.fixture
def api(tmp_path, monkeypatch):
    """The admin API alone: the routes commands never need the proxy's data path."""
    with serve_admin_api(tmp_path, monkeypatch) as running:
        yield running


def figkit_routes(api, *args: str, token: str = ADMIN_SECRET):
    return runner.invoke(routes_app, ["--admin", api.admin_url, "--token", token, *args])


def test_add_set_mode_rollback_and_history(api):
    add = figkit_routes(
        api,
        "add",
        "catalog",
        "--match",
        "/api/catalog/*",
        "--target",
        "catalog",
        "--why",
        "start",
    )
    assert add.exit_code == 0, add.output
    assert figkit_routes(api, "set-mode", "catalog", "service", "--why", "cut over").exit_code == 0
    listed = json.loads(figkit_routes(api, "list", "--json").output)
    assert listed["version"] == 2 and listed["routes"][0]["policy"] == {"mode": "service"}
    table = figkit_routes(api, "list")
    assert "mode" in table.output and "service" in table.output
    back = figkit_routes(api, "rollback", "catalog", "--why", "errors")
    assert back.exit_code == 0 and "version 3" in back.output
    history = json.loads(figkit_routes(api, "history", "--json").output)["changes"]
    assert [c["action"] for c in history] == ["rollback", "set-mode", "add"]
    assert figkit_routes(api, "history").exit_code == 0


def test_set_mode_canary_with_a_share_and_a_sticky_key(api):
    figkit_routes(
        api, "add", "cat", "--match", "/api/catalog/*", "--target", "catalog", "--why", "s"
    )
    done = figkit_routes(api, "set-mode", "cat", "canary", "--percent", "20", "--sticky",
                         "header:X-User", "--why", "try 20%")  # fmt: skip
    assert done.exit_code == 0 and "20% of users" in done.output, done.output
    raised = figkit_routes(api, "set-mode", "cat", "canary", "--percent", "50", "--why", "more")
    assert raised.exit_code == 0, raised.output
    route = json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]
    assert route["policy"] == {  # raising the share kept the sticky key
        "mode": "canary",
        "options": {"canary": {"percent": 50.0, "sticky": "header:X-User"}},
    }
    assert "canary 50%" in figkit_routes(api, "list").output
    back = figkit_routes(api, "rollback", "cat", "--why", "errors")
    assert back.exit_code == 0
    route = json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]
    assert route["policy"]["mode"] == "monolith"
    resumed = figkit_routes(api, "set-mode", "cat", "canary", "--why", "again")
    assert resumed.exit_code == 0 and "canary 50%" in figkit_routes(api, "list").output
    # mistakes: one line, non-zero, nothing changed
    figkit_routes(api, "add", "new", "--match", "/n/*", "--target", "catalog", "--why", "s")
    assert (
        "options['canary']" in figkit_routes(api, "set-mode", "new", "canary", "--why", "x").output
    )
    for args, words in (
        (("canary", "--percent", "150"), "from 0 to 100"),
        (("service", "--percent", "5"), "for mode canary"),
        (("canary", "--sticky", "header:X"), "give --percent"),
    ):
        result = figkit_routes(api, "set-mode", "cat", *args, "--why", "x")
        assert result.exit_code != 0 and words in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_fault_on_replace_and_off_each_one_audited_change(api):
    figkit_routes(
        api, "add", "cat", "--match", "/api/catalog/*", "--target", "catalog", "--why", "s"
    )
    on = figkit_routes(
        api, "fault", "cat", "--delay-ms", "200", "--percent", "10", "--why", "chaos"
    )
    assert on.exit_code == 0 and "+200 ms on 10%" in on.output, on.output

    def settings():
        route = json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]
        return route["policy"].get("options", {}).get("fault")

    assert settings() == {"delay_ms": 200, "percent": 10.0}
    aimed = figkit_routes(
        api, "fault", "cat", "--abort", "503", "--header", "X-Chaos", "--why", "c"
    )
    assert aimed.exit_code == 0 and "abort 503 on 100% of requests with X-Chaos" in aimed.output
    assert settings() == {"abort": 503, "percent": 100.0, "header": "X-Chaos"}  # replaced whole
    assert figkit_routes(api, "fault", "cat", "--off", "--why", "done").exit_code == 0
    assert settings() is None
    history = json.loads(figkit_routes(api, "history", "cat", "--json").output)["changes"]
    assert [c["why"] for c in history[:3]] == ["done", "c", "chaos"]
    for args, words in (
        (("--why", "x"), "give --delay-ms N, --abort STATUS"),
        (("--abort", "200", "--why", "x"), "from 400 to 599"),
        (("--off", "--abort", "503", "--why", "x"), "--off takes no other"),
    ):
        result = figkit_routes(api, "fault", "cat", *args)
        assert result.exit_code != 0 and words in result.output, (args, result.output)


def test_stats_prints_a_table_or_json_and_refuses_an_unknown_route(api):
    figkit_routes(api, "add", "stats-cli", "--match", "/s/*", "--target", "catalog", "--why", "s")
    shown = figkit_routes(api, "stats", "stats-cli")
    assert shown.exit_code == 0 and "requests since the proxy started" in shown.output
    data = json.loads(figkit_routes(api, "stats", "stats-cli", "--json").output)
    assert data["route"] == "stats-cli" and data["targets"] == {}
    missing = figkit_routes(api, "stats", "nope")
    assert missing.exit_code != 0 and "no route named 'nope'" in missing.output


def test_export_then_import_recreates_the_table(api, tmp_path):
    figkit_routes(
        api, "add", "a", "--match", "/a/*", "--target", "catalog", "--methods", "GET,HEAD"
    )
    exported = figkit_routes(api, "export").output
    file = tmp_path / "routes.json"
    file.write_text(exported)
    figkit_routes(api, "remove", "a", "--why", "gone")
    result = figkit_routes(api, "import", str(file), "--why", "restore")
    assert result.exit_code == 0, result.output
    routes = json.loads(figkit_routes(api, "list", "--json").output)["routes"]
    assert routes[0]["name"] == "a" and routes[0]["methods"] == ["GET", "HEAD"]


def test_move_retargets_a_route(api):
    figkit_routes(api, "add", "a", "--match", "/a/*", "--target", "catalog")
    assert figkit_routes(api, "move", "a", "--to", "orders", "--why", "split").exit_code == 0
    assert (
        json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]["target"] == "orders"
    )


def test_a_rejected_change_is_one_line_and_a_non_zero_exit(api):
    result = figkit_routes(api, "add", "x", "--match", "/x/*", "--target", "billing")
    assert result.exit_code == 1
    assert result.output.strip().startswith("figkit: unknown upstream 'billing'")
    assert "Traceback" not in result.output


def test_a_read_token_cannot_change_the_table(api):
    result = figkit_routes(api, "rollback", "all", token=READ_SECRET)
    assert result.exit_code == 1 and "HTTP 403" in result.output


def test_an_unreachable_admin_api_says_what_to_do():
    url = f"http://127.0.0.1:{servers.free_port()}"
    result = runner.invoke(routes_app, ["--admin", url, "--token", "t" * 10, "list"])
    assert result.exit_code == 1 and "is `figkit proxy serve` running?" in result.output


def test_no_token_says_where_to_put_one(api, monkeypatch, tmp_path):
    monkeypatch.delenv("FIGKIT_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("FIGKIT_ADMIN_TOKEN_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(routes_app, ["--admin", api.admin_url, "list"])
    assert result.exit_code == 1 and "FIGKIT_ADMIN_TOKEN" in result.output


def test_the_token_can_come_from_a_file(api, tmp_path):
    file = tmp_path / "token"
    file.write_text(ADMIN_SECRET + "\n")
    result = runner.invoke(
        routes_app, ["--admin", api.admin_url, "--token-file", str(file), "list"]
    )
    assert result.exit_code == 0, result.output


def test_import_of_a_file_that_is_not_json_loses_nothing(api, tmp_path):
    figkit_routes(api, "add", "a", "--match", "/a/*", "--target", "catalog")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    result = figkit_routes(api, "import", str(bad), "--why", "x", "--replace")
    assert result.exit_code == 1 and "is not JSON" in result.output
    assert len(json.loads(figkit_routes(api, "list", "--json").output)["routes"]) == 1


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            "[upstreams.catalog]\nurls = ['http://127.0.0.1:1']\n",
            "default_upstream 'monolith' is not under [upstreams]",
        ),
        ("[upstreams.monolith]\nurls = []\n", "upstreams.monolith.urls"),
        ("[upstreams.monolith]\nurls = ['ftp://x']\n", "is not an http(s)://"),
        ("[upstreams.monolith]\nurls = ['http://a:8000/shop']\n", "has a path (/shop)"),
        (
            "[proxy]\nlisten = 'nowhere'\n[upstreams.monolith]\nurls = ['http://a']\n",
            "proxy.listen",
        ),
        ("[proxy]\nlistn = 'x'\n[upstreams.monolith]\nurls = ['http://a']\n", "proxy.listn"),
        ("[upstreams.monolith\n", "is not valid TOML"),
        (
            "[upstreams.monolith]\nurls = ['http://a']\n[[tokens]]\nname = 'ops'\nsecret = 'inline'\n",
            "tokens.0",
        ),
        (
            "[upstreams.monolith]\nurls = ['http://a']\n[[tokens]]\nname = 'ops'\nsecret_env = 'FIGKIT_UNSET_FOR_TEST'\n",
            "is unset",
        ),
        (
            "[proxy]\nstore = 'mysql://x'\n[upstreams.monolith]\nurls = ['http://a']\n",
            "is not understood",
        ),
    ],
)
def test_proxy_check_names_the_mistake_in_the_config(tmp_path, toml, says):
    config = tmp_path / "proxy.toml"
    config.write_text(toml)
    result = runner.invoke(proxy_app, ["check", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_proxy_check_on_a_missing_file():
    result = runner.invoke(proxy_app, ["check", "--config", "/nonexistent/proxy.toml"])
    assert result.exit_code == 2 and "not found" in result.output


def test_the_figkit_command_mounts_routes_and_proxy():
    figkit = Path(sys.executable).with_name("figkit")
    out = subprocess.run(
        [str(figkit), "routes", "--help"], capture_output=True, text=True, env={**os.environ}
    )
    assert out.returncode == 0 and "set-mode" in out.stdout and "rollback" in out.stdout


def test_the_stacks_proxy_config_is_valid(tmp_path, monkeypatch):
    """The proxy.toml that `make demo` and `make up` write passes `figkit proxy check`."""
    from legacy_monolith.workshop.stack import Stack

    monkeypatch.chdir(tmp_path)
    stack = Stack(tmp_path / "var", port_base=18000)
    stack.write_files()
    result = runner.invoke(proxy_app, ["check", "--config", str(stack.folder / "proxy.toml")])
    assert result.exit_code == 0, result.output
    assert "upstreams catalog, monolith" in result.output


def test_serve_without_a_config_file_says_so(tmp_path):
    figkit = Path(sys.executable).with_name("figkit")
    out = subprocess.run(
        [str(figkit), "proxy", "serve"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 2
    assert (
        "proxy.toml not found: pass --config PATH" in out.stderr and "Traceback" not in out.stderr
    )
    assert list(tmp_path.iterdir()) == []


def test_if_version_makes_a_change_conditional(api):
    figkit_routes(api, "add", "a", "--match", "/a/*", "--target", "catalog")
    figkit_routes(api, "add", "b", "--match", "/b/*", "--target", "catalog")
    stale = runner.invoke(routes_app, ["--admin", api.admin_url, "--token", ADMIN_SECRET, "--if-version", "1",
                                       "rollback", "all", "--why", "x"])  # fmt: skip
    assert stale.exit_code == 1 and "HTTP 409" in stale.output
    fresh = runner.invoke(routes_app, ["--admin", api.admin_url, "--token", ADMIN_SECRET, "--if-version", "2",
                                       "set-mode", "a", "service", "--why", "x"])  # fmt: skip
    assert fresh.exit_code == 0, fresh.output


def test_methods_given_lower_case_are_stored_upper_case(api):
    result = figkit_routes(
        api, "add", "a", "--match", "/a/*", "--target", "catalog", "--methods", "get,head"
    )
    assert result.exit_code == 0, result.output
    route = json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]
    assert route["methods"] == ["GET", "HEAD"]


def test_a_route_named_all_is_refused_in_one_line(api):
    result = figkit_routes(api, "add", "all", "--match", "/x/*", "--target", "catalog")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is reserved" in lines[0] and lines[0].endswith("(HTTP 400)")


def test_an_older_export_file_with_mode_still_imports(api, tmp_path):
    file = tmp_path / "old.json"
    old = {"name": "a", "match": "/a/*", "methods": [], "header": None, "target": "catalog", "mode": "service"}  # fmt: skip
    file.write_text(json.dumps({"routes": [old]}))
    result = figkit_routes(api, "import", str(file), "--why", "restore")
    assert result.exit_code == 0, result.output
    route = json.loads(figkit_routes(api, "list", "--json").output)["routes"][0]
    assert route["policy"] == {"mode": "service"}
    assert figkit_routes(api, "history").exit_code == 0


def test_a_missing_admin_path_is_reported_as_one_line_not_a_page(api):
    result = runner.invoke(
        routes_app, ["--admin", api.admin_url + "/nowhere", "--token", ADMIN_SECRET, "list"]
    )
    assert result.exit_code == 1 and "(HTTP 404)" in result.output
    assert len(result.output.strip().splitlines()) == 1
