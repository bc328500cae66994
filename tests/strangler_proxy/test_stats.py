"""figkit routes stats: per-target figures of a route, read from the proxy's own samples."""

from __future__ import annotations

import time

import httpx
import pytest

from strangler_proxy.stats import _quantile
from tests.strangler_proxy.test_proxying import cut_over


def _stats(proxy, name: str, requests: int) -> dict:
    """The route's stats once they count `requests` (workers hand samples over each second)."""
    deadline = time.monotonic() + 5
    with proxy.admin() as admin:
        while True:
            data = admin.get(f"/api/routes/{name}/stats").json()
            if data["requests"] >= requests or time.monotonic() > deadline:
                return data
            time.sleep(0.1)


def test_stats_show_the_canary_split_errors_latency_and_breaker(proxy):
    name = "stats-canary"  # metrics live as long as the test process: a name of its own
    cut_over(proxy, name, "/api/catalog/*", policy={
        "mode": "canary", "options": {"canary": {"percent": 50, "sticky": "header:X-User"}}})  # fmt: skip
    seen = {"catalog": 0, "monolith": 0}
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for u in range(300):
            seen[
                client.get("/api/catalog/p", headers={"X-User": f"u{u}"}).headers["x-upstream"]
            ] += 1
    data = _stats(proxy, name, 300)
    targets = data["targets"]
    assert {t: v["requests"] for t, v in targets.items()} == seen  # what the clients saw, exactly
    assert abs(targets["catalog"]["share"] - 0.5) < 0.1
    assert all(v["errors"] == 0 and v["breaker"] == "closed" for v in targets.values())
    assert 0 < targets["catalog"]["p50_ms"] < 100
    assert data["policy"]["mode"] == "canary"

    with proxy.admin() as admin:  # injected latency shows in the stats
        resp = admin.patch(f"/api/routes/{name}",
                           json={"options": {"fault": {"delay_ms": 250}}, "why": "chaos"})  # fmt: skip
        proxy.wait_for_version(resp.json()["version"])
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for u in range(20):
            client.get("/api/catalog/p", headers={"X-User": f"u{u}"})
    slow = _stats(proxy, name, 320)
    assert max(v["p99_ms"] for v in slow["targets"].values()) >= 200


def test_stats_of_an_unknown_route_is_a_404(proxy):
    with proxy.admin() as admin:
        resp = admin.get("/api/routes/nope/stats")
    assert resp.status_code == 404 and "figkit routes list" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 0.0015), (0.25, 0.001), (0.99, 0.00968), (1.0, 0.01)],
)
def test_quantiles_interpolate_inside_a_bucket(q, expected):
    # 100 samples: 25 up to 1 ms, 50 between 1 and 2 ms, 25 between 2 and 10 ms (cumulative)
    buckets = [(0.001, 25.0), (0.002, 75.0), (0.01, 100.0), (float("inf"), 100.0)]
    assert _quantile(buckets, q) == pytest.approx(expected, rel=0.01)


def test_a_quantile_past_the_last_bucket_is_its_bound():
    assert _quantile([(0.5, 1.0), (float("inf"), 10.0)], 0.99) == 0.5
    assert _quantile([], 0.5) == 0.0
