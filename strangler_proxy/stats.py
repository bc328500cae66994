"""Per-route figures from the proxy's own Prometheus samples: what `figkit routes stats` shows.

The admin process reads the same samples /metrics serves (merged across workers), so the
figures and the metrics always agree. Counts are since the workers started. Latency
percentiles are estimated from the histogram's buckets with linear interpolation inside
a bucket, as Prometheus' histogram_quantile does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from prometheus_client import CollectorRegistry

BREAKER_NAMES = {0: "closed", 1: "half-open", 2: "open"}


def route_stats(registry: CollectorRegistry, route: str) -> dict[str, Any]:
    """{"targets": {target: {requests, errors, error_rate, share, p50_ms, p99_ms, breaker}}}."""
    return every_route(registry, only=route).get(route) or {
        "route": route,
        "requests": 0,
        "targets": {},
    }


def every_route(registry: CollectorRegistry, only: str | None = None) -> dict[str, dict[str, Any]]:
    """route_stats for every route seen in the samples (or only one), read in one pass."""
    requests: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    errors: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    buckets: dict[str, dict[str, dict[float, float]]] = defaultdict(lambda: defaultdict(dict))
    breakers: dict[str, str] = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = sample.labels
            route = labels.get("route")
            if only is not None and route is not None and route != only:
                continue
            if sample.name == "figkit_proxy_requests_total":
                requests[route][labels["target"]] += sample.value  # type: ignore[index]
                if labels.get("status", "").startswith("5"):
                    errors[route][labels["target"]] += sample.value  # type: ignore[index]
            elif sample.name == "figkit_proxy_request_duration_seconds_bucket":
                bound = float(labels["le"])
                into = buckets[route][labels["target"]]  # type: ignore[index]
                into[bound] = into.get(bound, 0.0) + sample.value
            elif sample.name == "figkit_proxy_breaker_state":
                breakers[labels["target"]] = BREAKER_NAMES.get(int(sample.value), "closed")
    found = {}
    for route, per_target in requests.items():
        total = sum(per_target.values())
        targets = {}
        for target in sorted(per_target):
            n = per_target[target]
            cumulative = sorted(buckets[route].get(target, {}).items())
            targets[target] = {
                "requests": int(n),
                "errors": int(errors[route][target]),
                "error_rate": errors[route][target] / n if n else 0.0,
                "share": n / total if total else 0.0,
                "p50_ms": _quantile(cumulative, 0.50) * 1000,
                "p99_ms": _quantile(cumulative, 0.99) * 1000,
                "breaker": breakers.get(target, "closed"),
            }
        found[route] = {"route": route, "requests": int(total), "targets": targets}
    return found


def breaker_states(registry: CollectorRegistry) -> dict[str, str]:
    """Each upstream's breaker, from the gauge (the worst worker's state)."""
    return {
        s.labels["target"]: BREAKER_NAMES.get(int(s.value), "closed")
        for family in registry.collect()
        for s in family.samples
        if s.name == "figkit_proxy_breaker_state"
    }


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float:
    """The q-quantile from cumulative (upper bound, count) buckets, +Inf last."""
    if not cumulative or cumulative[-1][1] == 0:
        return 0.0
    rank = q * cumulative[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            inside = count - lower_count
            fraction = (rank - lower_count) / inside if inside else 0.0
            return lower_bound + (bound - lower_bound) * fraction
        lower_bound, lower_count = bound, count
    return lower_bound
