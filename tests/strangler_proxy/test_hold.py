"""Hold: the proxy answers a route's writes itself with 503 + Retry-After for a bounded moment
(the seam's ownership flip), lets reads through, blames no upstream, and ends by itself."""

from __future__ import annotations

import time

import httpx
import pytest

from strangler_proxy.behaviours.hold import Hold
from strangler_proxy.errors import RouteError
from tests.strangler_proxy.test_proxying import cut_over


def _hold(proxy, name: str, settings: dict | None) -> dict:
    with proxy.admin() as admin:
        resp = admin.patch(
            f"/api/routes/{name}", json={"options": {"hold": settings}, "why": "flip"}
        )
        assert resp.status_code == 200, resp.text
        proxy.wait_for_version(resp.json()["version"])
        return resp.json()["route"]


def test_writes_are_answered_503_with_retry_after_and_reads_go_on(proxy):
    cut_over(proxy, "cat", "/api/catalog/*")
    _hold(proxy, "cat", {"until": time.time() + 30, "retry_after": 2})
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        writes = [client.patch("/api/catalog/x", json={"name": "n"}) for _ in range(10)]
        read = client.get("/api/catalog/x")
    assert {w.status_code for w in writes} == {503}
    held = writes[0]
    assert held.headers["retry-after"] == "2" and held.headers["x-figkit-hold"] == "1"
    assert held.json()["error"] == "held" and "x-upstream" not in held.headers
    assert read.status_code == 200 and read.headers["x-upstream"] == "catalog"
    # Ten 503s from the upstream in a row would open its breaker (5 failures); the proxy's own don't.
    _hold(proxy, "cat", None)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        after = client.patch("/api/catalog/x", json={"name": "n"})
    assert after.status_code == 200 and after.headers["x-upstream"] == "catalog"


def test_a_hold_ends_by_itself_at_its_bound_and_when_lifted(proxy):
    cut_over(proxy, "cat", "/api/catalog/*")
    _hold(proxy, "cat", {"until": time.time() + 0.5})
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        assert client.post("/api/catalog/x").status_code == 503
        time.sleep(0.6)
        assert client.post("/api/catalog/x").status_code == 200
        _hold(proxy, "cat", {"until": time.time() + 30})
        assert client.delete("/api/catalog/x").status_code == 503
        _hold(proxy, "cat", None)
        assert client.delete("/api/catalog/x").status_code == 200


@pytest.mark.parametrize(
    "settings, message",
    [
        ({}, "'until' must be"),
        ({"until": time.time() + 3600}, "at most 300 s"),
        ({"until": 1, "retry_after": -1}, "'retry_after'"),
        ({"until": 1, "methods": "POST"}, "'methods' must be a list"),
        ({"until": 1, "queue": True}, "unknown hold setting"),
    ],
)
def test_a_bad_hold_is_refused_with_what_to_write(settings, message):
    with pytest.raises(RouteError, match=message):
        Hold(settings)
