"""W3C trace context across the seam, through OpenTelemetry when it is configured."""

from __future__ import annotations


def current_traceparent() -> str | None:
    try:
        from opentelemetry import propagate
    except ImportError:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")
