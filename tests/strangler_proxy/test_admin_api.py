"""The admin API: tokens and scopes, validation with clear 4xx, audit, and no 500 for bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.strangler_proxy.conftest import READ_SECRET

ROUTE = {
    "name": "catalog",
    "match": "/api/catalog/*",
    "target": "catalog",
    "why": "extract catalog",
}


def test_no_token_is_401_and_a_wrong_one_too(proxy):
    assert httpx.get(f"{proxy.admin_url}/api/routes").status_code == 401
    with proxy.admin("wrong-token-xxxx") as admin:
        resp = admin.get("/api/routes")
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")


def test_a_read_token_reads_but_may_not_change(proxy):
    with proxy.admin(READ_SECRET) as viewer:
        assert viewer.get("/api/routes").status_code == 200
        resp = viewer.post("/api/routes", json=ROUTE)
    assert resp.status_code == 403 and "admin-scope" in resp.json()["error"]


def test_changes_are_audited_under_the_tokens_name(proxy):
    with proxy.admin() as admin:
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


def test_move_points_a_route_at_another_upstream(proxy):
    with proxy.admin() as admin:
        admin.post("/api/routes", json=ROUTE)
        resp = admin.patch("/api/routes/catalog", json={"target": "orders", "why": "renamed"})
        assert resp.json()["route"]["target"] == "orders"
        assert admin.get("/api/routes/catalog").json()["route"]["target"] == "orders"


def test_import_and_export_round_trip(proxy):
    routes = [
        {"name": "a", "match": "/a/*", "target": "catalog", "mode": "service", "methods": ["GET"], "header": None},
        {"name": "b", "match": "/b/<int:id>/", "target": "orders", "mode": "monolith", "methods": [], "header": "x-beta: 1"},
    ]  # fmt: skip
    with proxy.admin() as admin:
        assert admin.post("/api/import", json={"routes": routes, "why": "seed"}).status_code == 200
        exported = admin.get("/api/export").json()["routes"]
    assert exported == routes


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/api/routes", {**ROUTE, "target": "billing"}, 400, "unknown upstream 'billing'"),
        ("POST", "/api/routes", {**ROUTE, "match": "api/catalog"}, 400, "must start with '/'"),
        ("POST", "/api/routes", {**ROUTE, "mode": "canary"}, 400, "bad mode"),
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
        ("POST", "/api/routes", {**ROUTE, "methods": 5}, 400, "list of HTTP methods"),
        ("POST", "/api/routes", {**ROUTE, "name": 7}, 400, "'name' is required"),
        ("POST", "/api/routes", {**ROUTE, "why": 7}, 400, "'why' must be a string"),
        (
            "PATCH",
            "/api/routes/nope",
            {"mode": "service", "why": "x"},
            404,
            "no route named 'nope'",
        ),
        ("PATCH", "/api/routes/nope", {"why": "x"}, 400, "give 'mode'"),
        ("PATCH", "/api/routes/nope", {"mode": "service"}, 400, "missing field(s): why"),
        ("DELETE", "/api/routes/nope", {"why": "x"}, 404, "no route named"),
        ("POST", "/api/rollback", {"route": "nope", "why": "x"}, 404, "no route named"),
        ("POST", "/api/rollback", {"route": None, "why": "x"}, 400, "'route' must be"),
        ("POST", "/api/import", {"routes": "x", "why": "x"}, 400, "list of routes"),
        ("POST", "/api/import", {"routes": [{"name": "a"}], "why": "x"}, 400, "route #1"),
    ],
)
def test_bad_input_gets_a_clear_4xx(proxy, method, path, body, status, says):
    with proxy.admin() as admin:
        resp = admin.request(method, path, json=body)
    assert resp.status_code == status, resp.text
    if says:
        assert says in resp.json()["error"]


def test_a_body_that_is_not_json_is_a_400(proxy):
    with proxy.admin() as admin:
        resp = admin.post(
            "/api/routes", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400 and "not JSON" in resp.json()["error"]


def test_a_duplicate_name_is_a_409(proxy):
    with proxy.admin() as admin:
        admin.post("/api/routes", json=ROUTE)
        resp = admin.post("/api/routes", json=ROUTE)
    assert resp.status_code == 409 and "exists already" in resp.json()["error"]


def test_history_limit_is_checked(proxy):
    with proxy.admin() as admin:
        assert admin.get("/api/history", params={"limit": "many"}).status_code == 400
        assert admin.get("/api/history", params={"limit": 0}).status_code == 400


def test_healthz_and_metrics_need_no_token(proxy):
    assert httpx.get(f"{proxy.admin_url}/healthz").json()["ok"] is True
    assert httpx.get(f"{proxy.admin_url}/metrics").status_code == 200


def test_a_body_over_a_megabyte_is_refused_without_reading_it_all(proxy):
    def endless():
        for _ in range(64):
            yield b" " * 65536

    with proxy.admin() as admin:
        resp = admin.post("/api/import", content=endless())
    assert resp.status_code == 413


def test_expect_version_refuses_a_change_to_a_table_that_moved_on(proxy):
    with proxy.admin() as admin:
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
        mode = admin.get("/api/routes/catalog").json()["route"]["mode"]
    assert stale.status_code == 409 and f"not {version}" in stale.json()["error"]
    assert bad.status_code == 400
    assert mode == "service"
