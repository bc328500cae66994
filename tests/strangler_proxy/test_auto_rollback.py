"""Automatic rollback: a route whose service fails too often goes back to the monolith by itself."""

from __future__ import annotations

import time

import httpx

from strangler_proxy.auto_rollback import Watch
from strangler_proxy.config import RollbackConfig
from tests.strangler_proxy.fake_clock import FakeClock
from tests.strangler_proxy.test_proxying import cut_over


def test_a_failing_service_under_canary_is_rolled_back_and_audited_with_its_figures(start_proxy):
    proxy = start_proxy(  # the breaker off, so that every request reaches the failing service
        rollback={"error_rate": 0.5, "min_requests": 10, "window_seconds": 30},
        upstream_options={"catalog": {"breaker": {"failures": 0}}},
    )
    cut_over(
        proxy, "st", "/status", policy={"mode": "canary", "options": {"canary": {"percent": 100}}}
    )
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        answers = [client.get("/status", params={"code": 503}) for _ in range(10)]
        assert {(r.status_code, r.headers["x-upstream"]) for r in answers} == {(503, "catalog")}
        deadline = time.monotonic() + 5
        while True:  # the worker rolls back in the store; the table reaches every worker
            with proxy.admin() as admin:
                route = admin.get("/api/routes/st").json()["route"]
            if route["policy"]["mode"] == "monolith":
                break
            assert time.monotonic() < deadline, "the route was not rolled back"
            time.sleep(0.05)
        proxy.wait_for_version(admin_version(proxy))
        after = client.get("/status", params={"code": 503})
    assert after.headers["x-upstream"] == "monolith"
    assert route["policy"]["options"]["canary"] == {"percent": 100}  # kept for the next try
    with proxy.admin() as admin:
        change = admin.get("/api/history", params={"route": "st"}).json()["changes"][0]
    assert change["action"] == "auto-rollback" and change["who"] == "figkit"
    assert "10 of the last 10 requests to the service failed" in change["why"]


def test_healthy_traffic_and_client_faults_never_roll_back(start_proxy):
    proxy = start_proxy(rollback={"error_rate": 0.2, "min_requests": 10, "window_seconds": 30})
    cut_over(proxy, "st", "/status")
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for i in range(40):  # 10% errors, under the threshold; 404s are not failures
            code = 500 if i % 10 == 0 else 404 if i % 2 else 200
            client.get("/status", params={"code": code})
    time.sleep(0.3)
    with proxy.admin() as admin:
        assert admin.get("/api/routes/st").json()["route"]["policy"]["mode"] == "service"


def admin_version(proxy) -> int:
    with proxy.admin() as admin:
        return admin.get("/api/routes").json()["version"]


def test_the_watch_needs_enough_requests_and_forgets_old_ones():
    clock = FakeClock()
    watch = Watch(RollbackConfig(error_rate=0.5, min_requests=4, window_seconds=10), clock)
    assert [watch.record(True) for _ in range(3)] == [None, None, None]  # too few to judge
    clock.now += 11  # those fall out of the window
    assert watch.record(False) is None and watch.record(True) is None
    assert watch.record(True) is None  # 2 of 3
    reason = watch.record(True)  # 3 of 4 > 50%
    assert reason is not None and "3 of the last 4" in reason
    assert watch.record(True) is None  # once
    off = Watch(RollbackConfig(error_rate=0, min_requests=1), clock)
    assert all(off.record(True) is None for _ in range(50))
