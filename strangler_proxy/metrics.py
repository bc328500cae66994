"""Prometheus metrics of the data path, by route and target.

With several workers, `figkit proxy serve` sets PROMETHEUS_MULTIPROC_DIR before any
worker starts, and the admin port aggregates every worker's samples.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)

REQUESTS = Counter(
    "figkit_proxy_requests_total",
    "Requests answered by the proxy.",
    ["route", "target", "method", "status"],
)
LATENCY = Histogram(
    "figkit_proxy_request_duration_seconds",
    "Time from request to the end of the response body.",
    ["route", "target"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "figkit_proxy_upstream_errors_total",
    "Upstream calls that failed: connect (refused, unreachable), timeout, or broken (reset mid-way).",
    ["target", "kind"],
)
RETRIES = Counter(
    "figkit_proxy_retries_total",
    "Requests tried again on another URL of the upstream, within its retry budget.",
    ["target"],
)
SHADOW = Counter(
    "figkit_proxy_shadow_total",
    "Shadow traffic by outcome: compared, mismatched, shadow_errors (the service failed or "
    "answered 5xx), dropped (the mirror queue was full), skipped (a body over the cap).",
    ["route", "outcome"],
)
BREAKER_STATE = Gauge(
    "figkit_proxy_breaker_state",
    "The upstream's circuit breaker in the worst worker: 0 closed, 1 half-open, 2 open.",
    ["target"],
    multiprocess_mode="livemax",
)
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}
ROUTE_TABLE_VERSION = Gauge(
    "figkit_proxy_route_table_version",
    "The route table version each worker serves.",
    multiprocess_mode="livemin",
)

_BOUNDS = (*LATENCY_BUCKETS, float("inf"))


class Recorder:
    """Counts on the hot path in plain dicts; `flush()` hands them to prometheus_client.

    prometheus_client's multi-process values cost a lock, a pid check and an mmap write
    per increment (7% of a worker's time under load, measured with py-spy); this costs
    two dict updates. The data path flushes once a second, so /metrics lags by at most that.
    """

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str, str], int] = {}
        self._latency: dict[tuple[str, str], list] = {}
        self._errors: dict[tuple[str, str], int] = {}
        self._retries: dict[str, int] = {}

    def request(self, route: str, target: str, method: str, status: int, seconds: float) -> None:
        key = (route, target, method if method in KNOWN_METHODS else "other", str(status))
        self._requests[key] = self._requests.get(key, 0) + 1
        counts = self._latency.get((route, target))
        if counts is None:
            counts = self._latency[(route, target)] = [0] * len(_BOUNDS) + [0.0]
        counts[bisect_left(_BOUNDS, seconds)] += 1
        counts[-1] += seconds

    def retry(self, target: str) -> None:
        self._retries[target] = self._retries.get(target, 0) + 1

    def upstream_error(self, target: str, kind: str) -> None:
        self._errors[(target, kind)] = self._errors.get((target, kind), 0) + 1

    def flush(self) -> None:
        requests, self._requests = self._requests, {}
        latency, self._latency = self._latency, {}
        errors, self._errors = self._errors, {}
        retries, self._retries = self._retries, {}
        for target, n in retries.items():
            RETRIES.labels(target).inc(n)
        for key, n in requests.items():
            REQUESTS.labels(*key).inc(n)
        for pair, counts in latency.items():
            child = LATENCY.labels(*pair)
            # A histogram has no "observe n times"; its bucket values are incremented directly.
            for i, n in enumerate(counts[:-1]):
                if n:
                    child._buckets[i].inc(n)
            child._sum.inc(counts[-1])
        for error, n in errors.items():
            UPSTREAM_ERRORS.labels(*error).inc(n)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def registry() -> CollectorRegistry:
    """The samples of every worker process (merged) when there are several, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY


def exposition() -> bytes:
    """The text format for /metrics, merged across worker processes when there are several."""
    return generate_latest(registry())
