"""`figkit routes promote`: the walk monolith -> shadow -> canary -> service, each step behind its gate.

A real worker, real upstreams (tests/strangler_proxy/shadow_apps.py) and the CLI against the
real admin API: the gate reads figures the worker added to the store.
"""

from __future__ import annotations

import json
import time

import httpx
from typer.testing import CliRunner

from strangler_proxy.cli import routes_app
from tests.strangler_proxy.conftest import ADMIN_SECRET
from tests.strangler_proxy.test_proxying import cut_over

runner = CliRunner()
GATES = {"min_requests": 20, "ladder": [50], "max_mismatch_rate": 0.05, "max_error_rate": 0.05}


def figkit(proxy, *args: str):
    return runner.invoke(routes_app, ["--admin", proxy.admin_url, "--token", ADMIN_SECRET, *args])


def drive(proxy, until, seconds: float = 15.0) -> dict:
    """Send product requests (new users each time) until the route's gate window satisfies `until`."""
    deadline = time.monotonic() + seconds
    pid = 0
    with httpx.Client(base_url=proxy.url, timeout=10) as client, proxy.admin() as admin:
        while True:
            for _ in range(10):
                client.get(f"/api/products/{pid % 40}")
                client.cookies.clear()  # each request a new user: the canary splits them
                pid += 1
            window = admin.get("/api/routes/products/diff").json()["gate_window"]
            if until(window):
                return window
            assert time.monotonic() < deadline, f"the gate window never got there: {window}"
            time.sleep(0.2)


def test_promote_walks_the_route_and_each_gate_refuses_on_its_figures(start_proxy, products):
    apps, urls = products
    proxy = start_proxy(upstream_urls=urls, gates=GATES)
    cut_over(proxy, "products", "/api/products/<int:id>", policy={"mode": "monolith"})

    step = figkit(proxy, "promote", "products", "--why", "start the shadow run")
    assert step.exit_code == 0, step.output
    assert "promoted to shadow" in step.output

    early = figkit(proxy, "promote", "products", "--why", "too soon")
    assert early.exit_code == 1
    assert "only 0 shadow comparisons" in early.output and "min_requests is 20" in early.output

    drive(proxy, lambda w: w["compared"] >= 40)
    refused = figkit(proxy, "promote", "products", "--why", "looks fine?")
    assert refused.exit_code == 1
    assert "mismatch rate" in refused.output and "over max_mismatch_rate 5.0%" in refused.output
    diff = json.loads(figkit(proxy, "diff", "products", "--json").output)
    assert diff["mismatched"] > 0 and {s["path"] for s in diff["samples"]} == {"$.price"}
    assert "$.generated_at" in diff["noise"]
    shown = figkit(proxy, "diff", "products")
    assert shown.exit_code == 0 and "mismatched" in shown.output and "$.price" in shown.output
    assert "noise (ignored): $.generated_at" in shown.output

    httpx.post(f"{urls['catalog']}/fix")  # the service team ships the fix
    time.sleep(1.5)  # let the workers add what they counted before it
    assert figkit(proxy, "diff", "products", "--reset").exit_code == 0
    drive(proxy, lambda w: w["compared"] >= 25)
    passed = figkit(proxy, "promote", "products", "--why", "diff is clean")
    assert passed.exit_code == 0, passed.output
    assert "promoted to canary 50%" in passed.output

    early = figkit(proxy, "promote", "products", "--why", "too soon")
    assert early.exit_code == 1 and "requests reached the service" in early.output
    drive(proxy, lambda w: w["requests"] >= 25)
    final = figkit(proxy, "promote", "products", "--why", "canary healthy")
    assert final.exit_code == 0, final.output
    assert "promoted to service" in final.output
    with httpx.Client(base_url=proxy.url) as client:
        assert {client.get("/api/products/1").headers["x-figkit-upstream"] for _ in range(10)} == {
            "catalog"
        }

    beyond = figkit(proxy, "promote", "products", "--why", "more?")
    assert beyond.exit_code == 1 and "is in mode 'service'" in beyond.output
    assert figkit(proxy, "rollback", "products", "--why", "drill").exit_code == 0
    history = json.loads(figkit(proxy, "history", "products", "--json").output)["changes"]
    assert [c["action"] for c in history] == ["rollback", "promote", "promote", "promote", "add"]
    assert "gate: " in history[1]["why"] and "served" in history[1]["why"]
    assert "compared, 0.0% mismatched" in history[2]["why"]


def test_the_canary_gate_refuses_a_failing_service(start_proxy, products):
    apps, urls = products
    proxy = start_proxy(
        upstream_urls=urls,
        gates={**GATES, "ladder": [50]},
        rollback={"error_rate": 0},  # the gate, not the automatic rollback, is under test
        upstream_options={"catalog": {"breaker": {"failures": 0}}},
    )
    cut_over(proxy, "products", "/api/products/<int:id>", policy={"mode": "monolith"})
    with proxy.admin() as admin:
        resp = admin.patch(
            "/api/routes/products",
            json={"mode": "canary", "options": {"canary": {"percent": 50}}, "why": "t"},
        )
        proxy.wait_for_version(resp.json()["version"])
    apps["catalog"].fail_with = 503
    drive(proxy, lambda w: w["requests"] >= 25)
    refused = figkit(proxy, "promote", "products", "--why", "ship it")
    assert refused.exit_code == 1
    assert "error rate" in refused.output and "over max_error_rate 5.0%" in refused.output


def test_diff_and_promote_of_an_unknown_route_say_so(proxy):
    for args in (("diff", "nope"), ("diff", "nope", "--reset"), ("promote", "nope", "--why", "x")):
        done = figkit(proxy, *args)
        assert done.exit_code == 1 and "no route named 'nope'" in done.output, (args, done.output)


def page_app(side: str):
    """A page served by each side: the monolith's carries a new CSRF token in every answer, the
    service's is its own template. Compared whole, the monolith differs from itself."""
    import secrets

    from tests.strangler_proxy.upstream_app import lifespan

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        token = secrets.token_hex(16) if side == "monolith" else ""
        body = (f'<html><title>{side}</title><form><input type="hidden" '
                f'name="csrfmiddlewaretoken" value="{token}"></form></html>').encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return app


def test_a_body_learnt_whole_as_noise_keeps_the_gate_closed_until_ignored_on_purpose(start_proxy):
    from tests.strangler_proxy import servers

    running = {side: servers.start(page_app(side)) for side in ("monolith", "catalog")}
    try:
        proxy = start_proxy(upstream_urls={s: r.url for s, r in running.items()}, gates=GATES)
        cut_over(proxy, "page", "/pages/<int:id>", policy={"mode": "monolith"})
        assert figkit(proxy, "promote", "page", "--why", "compare the pages").exit_code == 0

        def send(until):
            deadline = time.monotonic() + 15
            with httpx.Client(base_url=proxy.url, timeout=10) as client, proxy.admin() as admin:
                while True:
                    for n in range(10):
                        assert client.get(f"/pages/{n}").status_code == 200
                    window = admin.get("/api/routes/page/diff").json()["gate_window"]
                    if until(window):
                        return window
                    assert time.monotonic() < deadline, window
                    time.sleep(0.2)

        window = send(lambda w: w["compared"] >= 30 and w["body_is_noise"])
        assert window["mismatched"] == 0, "a page compared as noise shows no mismatch at all"
        refused = figkit(proxy, "promote", "page", "--why", "0 mismatches?")
        assert refused.exit_code == 1, refused.output
        assert "whole body is learnt as noise" in refused.output
        assert "set-mode page shadow --ignore '$'" in " ".join(refused.output.split())
        shown = figkit(proxy, "diff", "page")
        assert "warning: the whole body is learnt as noise" in shown.output

        ignored = figkit(proxy, "set-mode", "page", "shadow", "--ignore", "$", "--why",
                         "the service's own pages: status and content type only")  # fmt: skip
        assert ignored.exit_code == 0, ignored.output
        send(lambda w: w["compared"] >= 25)
        passed = figkit(proxy, "promote", "page", "--why", "compared by status, on purpose")
        assert passed.exit_code == 0, passed.output
        assert "promoted to canary 50%" in passed.output
        assert "warning" not in figkit(proxy, "diff", "page").output
    finally:
        for r in running.values():
            r.stop()
