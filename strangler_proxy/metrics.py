"""Prometheus metrics of the data path, by route and target.

With several workers, `figkit proxy serve` sets PROMETHEUS_MULTIPROC_DIR before any
worker starts, and the admin port aggregates every worker's samples.
"""

from __future__ import annotations

import os

from prometheus_client import (
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
ROUTE_TABLE_VERSION = Gauge(
    "figkit_proxy_route_table_version",
    "The route table version each worker serves.",
    multiprocess_mode="livemin",
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def exposition() -> bytes:
    """The text format for /metrics, merged across worker processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
