"""Fault injection through a real worker: latency and aborts, aimed by header and share, audited."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from strangler_proxy.behaviours.fault import Fault
from strangler_proxy.errors import RouteError
from tests.strangler_proxy.test_proxying import cut_over


def _fault(proxy, name: str, settings: dict | None, why: str = "chaos") -> dict:
    with proxy.admin() as admin:
        resp = admin.patch(f"/api/routes/{name}", json={"options": {"fault": settings}, "why": why})
        assert resp.status_code == 200, resp.text
        proxy.wait_for_version(resp.json()["version"])
        return resp.json()["route"]


def test_injected_latency_shows_in_the_response_time_and_the_access_log(start_proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    proxy = start_proxy(access_log=str(log))
    cut_over(proxy, "cat", "/api/catalog/*")
    route = _fault(proxy, "cat", {"delay_ms": 300})
    assert route["policy"] == {"mode": "service", "options": {"fault": {"delay_ms": 300}}}
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        started = time.monotonic()
        slow = client.get("/api/catalog/x")
        took = time.monotonic() - started
        other = client.get("/elsewhere")
    assert slow.status_code == 200 and slow.headers["x-upstream"] == "catalog"
    assert slow.headers["x-figkit-fault"] == "delay" and took >= 0.3
    assert "x-figkit-fault" not in other.headers
    proxy.app.access_log.flush()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    delayed = [entry for entry in lines if entry["route"] == "cat"]
    assert delayed and delayed[-1]["duration_ms"] >= 300


def test_an_abort_reaches_only_requests_with_the_header_and_never_the_upstream(proxy):
    cut_over(proxy, "cat", "/api/catalog/*")
    _fault(proxy, "cat", {"abort": 503, "header": "X-Chaos"})
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        plain = [client.get("/api/catalog/x") for _ in range(20)]
        aimed = [client.get("/api/catalog/x", headers={"X-Chaos": "1"}) for _ in range(20)]
    assert {r.status_code for r in plain} == {200}
    assert {r.status_code for r in aimed} == {503}
    body = aimed[0].json()
    assert body["error"] == "fault_injected" and "x-upstream" not in aimed[0].headers
    assert aimed[0].headers["x-figkit-fault"] == "abort"
    assert body["request_id"] == aimed[0].headers["x-request-id"]


def test_a_share_of_requests_is_hit_and_off_stops_it(proxy):
    cut_over(proxy, "cat", "/api/catalog/*")
    _fault(proxy, "cat", {"abort": 500, "percent": 30})
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        statuses = [client.get("/api/catalog/x").status_code for _ in range(600)]
        share = statuses.count(500) / len(statuses)
        assert 0.24 <= share <= 0.36, share
        assert set(statuses) == {200, 500}
        route = _fault(proxy, "cat", None, why="chaos over")
        assert route["policy"] == {"mode": "service"}
        assert {client.get("/api/catalog/x").status_code for _ in range(50)} == {200}
    with proxy.admin() as admin:
        history = admin.get("/api/history", params={"route": "cat"}).json()["changes"]
    assert [c["action"] for c in history[:2]] == ["set-options", "set-options"]
    assert [c["why"] for c in history[:2]] == ["chaos over", "chaos"]


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "'delay_ms', 'abort' or both"),
        ({"abort": 200}, "from 400 to 599"),
        ({"abort": 503, "percent": 101}, "from 0 to 100"),
        ({"delay_ms": -1}, "from 0 to"),
        ({"delay_ms": "5"}, "must be a number"),
        ({"abort": 503, "header": "bad header"}, "header name"),
        ({"abort": 503, "typo": 1}, "unknown fault setting"),
    ],
)
def test_bad_fault_settings_are_refused_with_what_to_write(proxy, settings, words):
    with pytest.raises(RouteError, match=words):
        Fault(settings)
    cut_over(proxy, "cat", "/api/catalog/*")
    with proxy.admin() as admin:
        resp = admin.patch("/api/routes/cat", json={"options": {"fault": settings}, "why": "x"})
    assert resp.status_code == 400 and words in resp.json()["detail"], resp.text
