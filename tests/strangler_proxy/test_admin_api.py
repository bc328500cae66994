"""The admin API: tokens and scopes, typed bodies with clear JSON 4xx, audit, no 500 for bad input.

The admin API is served alone here (a real Starlette app on loopback with a real SQLite
store): it never calls an upstream, so these tests do not need the proxy's data path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from strangler_proxy.admin import create_admin_app
from strangler_proxy.config import token_secrets
from strangler_proxy.store import RouteStore, open_store
from tests.strangler_proxy import servers
from tests.strangler_proxy.conftest import ADMIN_SECRET, READ_SECRET, make_config

# Upstream URLs the admin API only names (it never calls them).
UPSTREAMS = {name: "http://127.0.0.1:9" for name in ("monolith", "catalog", "orders")}


@dataclass
class AdminAPI:
    admin_url: str
    store: RouteStore

    def admin(self, token: str = ADMIN_SECRET) -> httpx.Client:
        return httpx.Client(
            base_url=self.admin_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


@contextmanager
def serve_admin_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdminAPI]:
    """The admin API on loopback over a fresh SQLite route store, with the test tokens."""
    monkeypatch.setenv("FIGKIT_TEST_ADMIN", ADMIN_SECRET)
    monkeypatch.setenv("FIGKIT_TEST_READ", READ_SECRET)
    config = make_config(UPSTREAMS, f"sqlite:///{tmp_path}/routes.db")
    store = open_store(config.proxy.store)
    running = servers.start(create_admin_app(config, store, token_secrets(config)))
    try:
        yield AdminAPI(running.url, store)
    finally:
        running.stop()
        store.close()


@pytest.fixture
def api(tmp_path, monkeypatch):
    with serve_admin_api(tmp_path, monkeypatch) as running:
        yield running


ROUTE = {
    "name": "catalog",
    "match": "/api/catalog/*",
    "target": "catalog",
    "why": "extract catalog",
}


def test_no_token_is_401_and_a_wrong_one_too(api):
    assert httpx.get(f"{api.admin_url}/api/routes").status_code == 401
    with api.admin("wrong-token-xxxx") as admin:
        resp = admin.get("/api/routes")
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")


def test_a_read_token_reads_but_may_not_change(api):
    with api.admin(READ_SECRET) as viewer:
        assert viewer.get("/api/routes").status_code == 200
        resp = viewer.post("/api/routes", json=ROUTE)
    assert resp.status_code == 403 and "admin-scope" in resp.json()["detail"]


def test_changes_are_audited_under_the_tokens_name(api):
    with api.admin() as admin:
        assert admin.post("/api/routes", json=ROUTE).status_code == 201
        assert (
            admin.patch("/api/routes/catalog", json={"mode": "service", "why": "cut"}).status_code
            == 200
        )
        assert admin.post("/api/rollback", json={"route": "all", "why": "pager"}).status_code == 200
        changes = admin.get("/api/history").json()["changes"]
        only = admin.get("/api/history", params={"route": "catalog", "limit": 1}).json()["changes"]
    assert [(c["version"], c["action"], c["who"], c["why"]) for c in changes] == [
        (3, "rollback", "ops", "pager"),
        (2, "set-mode", "ops", "cut"),
        (1, "add", "ops", "extract catalog"),
    ]
    assert len(only) == 1 and only[0]["version"] == 3


def test_move_points_a_route_at_another_upstream(api):
    with api.admin() as admin:
        admin.post("/api/routes", json=ROUTE)
        resp = admin.patch("/api/routes/catalog", json={"target": "orders", "why": "renamed"})
        assert resp.json()["route"]["target"] == "orders"
        assert admin.get("/api/routes/catalog").json()["route"]["target"] == "orders"


def test_import_and_export_round_trip(api):
    routes = [
        {"name": "a", "match": "/a/*", "methods": ["GET"], "header": None, "target": "catalog", "policy": {"mode": "service"}},
        {"name": "b", "match": "/b/<int:id>/", "methods": [], "header": "x-beta: 1", "target": "orders", "policy": {"mode": "monolith"}},
    ]  # fmt: skip
    with api.admin() as admin:
        assert admin.post("/api/import", json={"routes": routes, "why": "seed"}).status_code == 200
        exported = admin.get("/api/export").json()["routes"]
    assert exported == routes


def test_an_older_export_with_mode_imports_as_a_policy(api):
    old = {"name": "a", "match": "/a/*", "target": "catalog", "mode": "service", "methods": ["GET"], "header": None}  # fmt: skip
    with api.admin() as admin:
        assert admin.post("/api/import", json={"routes": [old], "why": "x"}).status_code == 200
        route = admin.get("/api/routes/a").json()["route"]
    assert route["policy"] == {"mode": "service"} and "mode" not in route


def test_a_patch_can_set_a_whole_policy(api):
    with api.admin() as admin:
        admin.post("/api/routes", json=ROUTE)
        resp = admin.patch(
            "/api/routes/catalog", json={"policy": {"mode": "service"}, "why": "cut"}
        )
        history = admin.get("/api/history", params={"limit": 1}).json()["changes"]
    assert resp.status_code == 200 and resp.json()["route"]["policy"] == {"mode": "service"}
    assert history[0]["action"] == "set-policy"
    assert history[0]["before"]["policy"] == {"mode": "monolith"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/api/routes", {**ROUTE, "target": "billing"}, 400, "unknown upstream 'billing'"),
        ("POST", "/api/routes", {**ROUTE, "match": "api/catalog"}, 400, "must start with '/'"),
        ("POST", "/api/routes", {**ROUTE, "mode": "bluegreen"}, 400, "bad mode"),
        (
            "POST",
            "/api/routes",
            {k: v for k, v in ROUTE.items() if k != "why"},
            400,
            "missing field(s): why",
        ),
        ("POST", "/api/routes", {**ROUTE, "why": ""}, 400, "say why"),
        ("POST", "/api/routes", {**ROUTE, "extra": 1}, 400, "unknown field"),
        ("POST", "/api/routes", [1, 2], 400, "JSON object"),
        ("POST", "/api/routes", {**ROUTE, "methods": "GET"}, 201, ""),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "methods": 5},
            400,
            "'methods': input should be a valid list",
        ),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "name": 7},
            400,
            "'name': input should be a valid string",
        ),
        ("POST", "/api/routes", {**ROUTE, "why": 7}, 400, "'why': input should be a valid string"),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "policy": {"mode": "bluegreen"}},
            400,
            "bad mode 'bluegreen'",
        ),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "policy": {"mode": "service"}, "mode": "service"},
            400,
            "not both",
        ),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "policy": {"options": {"teleport": {}}}},
            400,
            "unknown behaviour 'teleport'",
        ),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "policy": "service"},
            400,
            "'policy': input should be a valid dictionary",
        ),
        ("POST", "/api/routes", {**ROUTE, "name": "all"}, 400, "is reserved"),
        ("POST", "/api/routes", {**ROUTE, "name": "ALL"}, 400, "is reserved"),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "match": "/a/../b/*"},
            400,
            "'..' segment can never match",
        ),
        ("POST", "/api/routes", {**ROUTE, "match": "/a/./b/"}, 400, "can never match"),
        (
            "POST",
            "/api/routes",
            {**ROUTE, "header": "X-Beta: 1\r\nX-Evil: 2"},
            400,
            "no CR, LF, NUL",
        ),
        ("POST", "/api/routes", {**ROUTE, "header": "X-Beta: a\x00b"}, 400, "bad header value"),
        ("POST", "/api/routes", {**ROUTE, "methods": ["GET\r"]}, 400, "bad HTTP method"),
        ("POST", "/api/routes", {**ROUTE, "methods": ["G(E)T"]}, 400, "bad HTTP method"),
        (
            "PATCH",
            "/api/routes/nope",
            {"mode": "service", "why": "x"},
            404,
            "no route named 'nope'",
        ),
        ("PATCH", "/api/routes/nope", {"why": "x"}, 400, "give 'mode'"),
        ("PATCH", "/api/routes/nope", {"mode": 1, "why": "x"}, 400, "'mode': input should be"),
        (
            "PATCH",
            "/api/routes/nope",
            {"mode": "service", "policy": {}, "why": "x"},
            400,
            "not both",
        ),
        ("PATCH", "/api/routes/nope", {"mode": "service"}, 400, "missing field(s): why"),
        ("DELETE", "/api/routes/nope", {"why": "x"}, 404, "no route named"),
        ("POST", "/api/rollback", {"route": "nope", "why": "x"}, 404, "no route named"),
        ("POST", "/api/rollback", {"route": None, "why": "x"}, 400, "'route': input should be"),
        ("POST", "/api/rollback", {"route": "", "why": "x"}, 400, "'route'"),
        (
            "POST",
            "/api/import",
            {"routes": "x", "why": "x"},
            400,
            "'routes': input should be a valid list",
        ),
        (
            "POST",
            "/api/import",
            {"routes": [], "replace": "false", "why": "x"},
            400,
            "'replace': input should be a valid boolean",
        ),
        ("POST", "/api/import", {"routes": [], "replace": 0, "why": "x"}, 400, "'replace'"),
        (
            "POST",
            "/api/import",
            {"routes": [], "why": "x", "expect_version": True},
            400,
            "'expect_version'",
        ),
        (
            "POST",
            "/api/import",
            {"routes": [], "why": "x", "expect_version": -1},
            400,
            "'expect_version'",
        ),
        ("POST", "/api/import", {"routes": [{"name": "a"}], "why": "x"}, 400, "route #1"),
    ],
)
def test_bad_input_gets_a_clear_4xx(api, method, path, body, status, says):
    with api.admin() as admin:
        resp = admin.request(method, path, json=body)
    assert resp.status_code == status, resp.text
    if says:
        error = resp.json()
        assert says in error["detail"] and error["error"] and "\n" not in error["detail"]


def test_a_body_that_is_not_json_is_a_400(api):
    with api.admin() as admin:
        resp = admin.post(
            "/api/routes", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_json", "detail": "the request body is not JSON"}


def test_a_duplicate_name_is_a_409(api):
    with api.admin() as admin:
        admin.post("/api/routes", json=ROUTE)
        resp = admin.post("/api/routes", json=ROUTE)
    assert resp.status_code == 409 and resp.json()["error"] == "conflict"
    assert "exists already" in resp.json()["detail"]


def test_history_limit_is_checked(api):
    with api.admin() as admin:
        assert admin.get("/api/history", params={"limit": "many"}).status_code == 400
        assert admin.get("/api/history", params={"limit": 0}).status_code == 400


def test_healthz_and_metrics_need_no_token(api):
    assert httpx.get(f"{api.admin_url}/healthz").json()["ok"] is True
    assert httpx.get(f"{api.admin_url}/metrics").status_code == 200


def test_a_body_over_a_megabyte_is_refused_without_reading_it_all(api):
    def endless():
        for _ in range(64):
            yield b" " * 65536

    with api.admin() as admin:
        resp = admin.post("/api/import", content=endless())
    assert resp.status_code == 413


def test_expect_version_refuses_a_change_to_a_table_that_moved_on(api):
    with api.admin() as admin:
        version = admin.post("/api/routes", json=ROUTE).json()["version"]
        admin.post(
            "/api/rollback", json={"route": "all", "why": "operator", "expect_version": version}
        )
        admin.patch("/api/routes/catalog", json={"mode": "service", "why": "someone else"})
        stale = admin.patch(
            "/api/routes/catalog",
            json={"mode": "monolith", "why": "script", "expect_version": version},
        )
        bad = admin.patch(
            "/api/routes/catalog", json={"mode": "monolith", "why": "x", "expect_version": "7"}
        )
        mode = admin.get("/api/routes/catalog").json()["route"]["policy"]["mode"]
    assert stale.status_code == 409 and f"not {version}" in stale.json()["detail"]
    assert bad.status_code == 400
    assert mode == "service"


def test_replace_given_as_the_string_false_is_refused_and_changes_nothing(api):
    with api.admin() as admin:
        for name in ("a", "b", "c"):
            admin.post("/api/routes", json={**ROUTE, "name": name, "match": f"/{name}/*"})
        before = admin.get("/api/export").json()
        only_a = [r for r in before["routes"] if r["name"] == "a"]
        resp = admin.post("/api/import", json={"routes": only_a, "replace": "false", "why": "typo"})
        after = admin.get("/api/export").json()
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_body"
    assert after == before and len(after["routes"]) == 3


def test_methods_are_stored_upper_case(api):
    with api.admin() as admin:
        resp = admin.post("/api/routes", json={**ROUTE, "methods": ["get", "m-search"]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["route"]["methods"] == ["GET", "M-SEARCH"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/nothing-here", 404, "not_found"),
        ("GET", "/dashboard/nothing.js", 404, "not_found"),
        ("POST", "/", 405, "method_not_allowed"),
        ("PUT", "/api/routes", 405, "method_not_allowed"),
        ("POST", "/api/history", 405, "method_not_allowed"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
    ],
)
def test_unknown_paths_and_methods_answer_json_too(api, method, path, status, code):
    with api.admin() as admin:
        resp = admin.request(method, path)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["error"] == code and body["detail"] and "\n" not in body["detail"]
    if status == 405:
        assert resp.headers["allow"]


@pytest.mark.parametrize("depth", [40, 5000, 200_000])
def test_deeply_nested_json_is_a_400_not_a_500(api, depth):
    body = b'{"routes": ' + b"[" * depth + b"]" * depth + b', "why": "x"}'
    with api.admin() as admin:
        resp = admin.post("/api/import", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_json" and "nests deeper" in resp.json()["detail"]


def test_every_error_is_json_with_a_code_and_one_line(api):
    with api.admin("wrong-token-xxxx") as stranger, api.admin() as admin:
        answers = [
            stranger.get("/api/routes"),
            admin.get("/api/routes/nope"),
            admin.post("/api/routes", json={**ROUTE, "target": "billing"}),
        ]
    assert [(r.status_code, r.json()["error"]) for r in answers] == [
        (401, "unauthorized"),
        (404, "not_found"),
        (400, "invalid_route"),
    ]
    assert all(set(r.json()) == {"error", "detail"} for r in answers)
