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
    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(dict)
    breakers: dict[str, str] = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "figkit_proxy_requests_total" and labels.get("route") == route:
                requests[labels["target"]] += sample.value
                if labels.get("status", "").startswith("5"):
                    errors[labels["target"]] += sample.value
            elif (
                sample.name == "figkit_proxy_request_duration_seconds_bucket"
                and labels.get("route") == route
            ):
                bound = float(labels["le"])
                into = buckets[labels["target"]]
                into[bound] = into.get(bound, 0.0) + sample.value
            elif sample.name == "figkit_proxy_breaker_state":
                breakers[labels["target"]] = BREAKER_NAMES.get(int(sample.value), "closed")
    total = sum(requests.values())
    targets = {}
    for target in sorted(requests):
        n = requests[target]
        cumulative = sorted(buckets.get(target, {}).items())
        targets[target] = {
            "requests": int(n),
            "errors": int(errors[target]),
            "error_rate": errors[target] / n if n else 0.0,
            "share": n / total if total else 0.0,
            "p50_ms": _quantile(cumulative, 0.50) * 1000,
            "p99_ms": _quantile(cumulative, 0.99) * 1000,
            "breaker": breakers.get(target, "closed"),
        }
    return {"route": route, "requests": int(total), "targets": targets}


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
