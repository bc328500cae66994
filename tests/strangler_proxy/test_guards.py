"""Guards: fallback to the monolith and the circuit breaker, against real upstreams on loopback."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from strangler_proxy.config import BreakerConfig
from strangler_proxy.guards import CLOSED, HALF_OPEN, OPEN, Breaker
from tests.strangler_proxy import servers
from tests.strangler_proxy.fake_clock import FakeClock
from tests.strangler_proxy.test_proxying import NO_FALLBACK, cut_over
from tests.strangler_proxy.upstream_app import make_app


@pytest.fixture
def service():
    """A catalog service of this test's own, so the test can kill it."""
    running = servers.start(make_app("catalog"))
    yield running
    running.stop()


def test_a_dead_service_falls_back_to_the_monolith_for_get_but_not_post(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proxy = start_proxy(upstream_urls={**upstreams, "catalog": dead})
    cut_over(proxy, "cat", "/api/catalog/*")
    got = httpx.get(f"{proxy.url}/api/catalog/x")
    assert got.status_code == 200 and got.headers["x-upstream"] == "monolith"
    assert got.headers["x-figkit-fallback"] == "catalog"
    posted = httpx.post(f"{proxy.url}/api/catalog/x", content=b"{}")
    assert posted.status_code == 502 and posted.json()["error"] == "upstream_unreachable"
    assert "x-figkit-fallback" not in posted.headers


def test_fallback_methods_are_per_route(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proxy = start_proxy(upstream_urls={**upstreams, "catalog": dead})
    cut_over(proxy, "cat", "/api/catalog/*",
             policy={"mode": "service", "options": {"fallback": {"methods": ["GET", "PUT"]}}})  # fmt: skip
    assert httpx.put(f"{proxy.url}/api/catalog/x").headers["x-upstream"] == "monolith"
    assert httpx.head(f"{proxy.url}/api/catalog/x").status_code == 502
    with proxy.admin() as admin:
        resp = admin.patch("/api/routes/cat", json={"options": {"fallback": {"methods": ["get"]}},
                                                    "why": "x"})  # fmt: skip
    assert resp.status_code == 400 and "upper-case methods" in resp.json()["detail"]


def test_killing_the_service_mid_load_trips_the_breaker_and_get_never_fails(
    start_proxy, upstreams, service
):
    proxy = start_proxy(
        upstream_urls={**upstreams, "catalog": service.url},
        upstream_options={"catalog": {"breaker": {"failures": 3, "open_seconds": 30}}},
        rollback={"error_rate": 0},  # the breaker alone here (auto-rollback has its own tests)
    )
    cut_over(proxy, "cat", "/api/catalog/*")
    results: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def load(method: str) -> None:
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            while not stop.is_set():
                r = client.request(method, "/api/catalog/x")
                results.append((method, r.status_code, r.headers.get("x-upstream", "")))

    threads = [threading.Thread(target=load, args=(m,)) for m in ("GET", "GET", "POST")]
    for t in threads:
        t.start()
    time.sleep(0.5)
    service.stop()  # the service dies under load
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(10)
    gets = [r for r in results if r[0] == "GET"]
    posts = [r for r in results if r[0] == "POST"]
    assert {s for _, s, _ in gets} == {200}, "a GET failed while the service died"
    assert {"catalog", "monolith"} <= {u for _, _, u in gets}
    failed_posts = [s for _, s, _ in posts if s != 200]
    assert failed_posts and set(failed_posts) <= {502, 503}
    breaker = proxy.app.upstreams["catalog"].breaker
    assert breaker.state == OPEN and breaker.opened >= 1
    shed = httpx.post(f"{proxy.url}/api/catalog/x")
    assert shed.status_code == 503 and shed.json()["error"] == "upstream_open"
    assert "circuit breaker" in shed.json()["detail"]


def test_a_5xx_the_service_answers_itself_is_passed_on_not_retried(start_proxy, upstreams):
    proxy = start_proxy()
    cut_over(proxy, "cat", "/status")
    resp = httpx.get(f"{proxy.url}/status", params={"code": 503})
    assert resp.status_code == 503 and resp.headers["x-upstream"] == "catalog"


def test_the_breaker_opens_after_failures_in_a_row_and_half_opens_after_a_while():
    clock = FakeClock(100.0)
    b = Breaker(BreakerConfig(failures=3, open_seconds=10, half_open_requests=1), clock)
    for ok in (False, False, True, False, False):
        assert b.allow()
        b.record(ok)
    assert b.state == CLOSED  # a success in between resets the count
    assert b.allow()
    b.record(False)
    assert b.state == OPEN and not b.allow()
    clock.now += 9.9
    assert not b.allow() and 0 < b.seconds_left() <= 0.1
    clock.now += 0.2
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow()  # one trial at a time
    b.record(False)
    assert b.state == OPEN and b.opened == 2
    clock.now += 10
    assert b.allow()
    b.abandon()  # the client left: the trial is free again, no verdict
    assert b.allow()
    b.record(True)
    assert b.state == CLOSED and b.allow()


def test_a_breaker_with_zero_failures_is_off():
    b = Breaker(BreakerConfig(failures=0))
    for _ in range(100):
        b.record(False)
    assert b.allow() and b.state == CLOSED


def test_a_dead_url_is_retried_elsewhere_then_ejected(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proxy = start_proxy(
        upstream_urls=upstreams,
        upstream_options={"catalog": {"urls": [dead, upstreams["catalog"]],
                                      "outlier": {"failures": 3, "eject_seconds": 30}}},
    )  # fmt: skip
    cut_over(proxy, "cat", "/api/catalog/*", policy=NO_FALLBACK)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        gets = [client.get("/api/catalog/x") for _ in range(20)]
        posts = [client.post("/api/catalog/x", content=b"{}") for _ in range(20)]
    assert {(r.status_code, r.headers["x-upstream"]) for r in gets} == {(200, "catalog")}
    catalog = proxy.app.upstreams["catalog"]
    dead_pool = next(p for p in catalog.pools if p.port != servers_port(upstreams["catalog"]))
    assert dead_pool.ejected() and dead_pool.ejections == 1
    assert catalog.budget.retries == 3  # only until the dead URL was ejected
    assert {r.status_code for r in posts} == {200}  # after ejection nothing goes to it


def test_retries_stay_within_the_budget(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proxy = start_proxy(
        upstream_urls={**upstreams, "catalog": dead},
        upstream_options={"catalog": {"breaker": {"failures": 0},
                                      "retries": {"budget": 0.2, "min_per_second": 0}}},
        rollback={"error_rate": 0},
    )  # fmt: skip
    cut_over(proxy, "cat", "/api/catalog/*", policy=NO_FALLBACK)
    before = _retries_metric(proxy)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        statuses = [client.get("/api/catalog/x").status_code for _ in range(100)]
    assert set(statuses) == {502}
    budget = proxy.app.upstreams["catalog"].budget
    assert 15 <= budget.retries <= 20, budget.retries  # 20% of 100, never more
    assert budget.refused == 100 - budget.retries
    deadline = time.monotonic() + 3  # the worker hands its counts to Prometheus each second
    while _retries_metric(proxy) < before + budget.retries:
        assert time.monotonic() < deadline, "figkit_proxy_retries_total did not count the retries"
        time.sleep(0.1)


def _retries_metric(proxy) -> float:
    text = httpx.get(f"{proxy.admin_url}/metrics").text
    for line in text.splitlines():
        if line.startswith('figkit_proxy_retries_total{target="catalog"}'):
            return float(line.split()[-1])
    return 0.0


def servers_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
