"""One W3C trace across the seam: the request that changed an aggregate, the outbox event it
wrote, the relay that sent the event, the broker message and the consumer that applied it.

OpenTelemetry does the work: its SDK (provider, batching, exporters) and its own instrumentation
of Django, Celery and httpx. `configure()` sets them up once per process, from the seam's
AppConfig.ready(); the seam asks this module for the traceparent an event keeps, the relay's span,
the message's headers and the consumer's span.

Where spans go (docs/tracing.md):
- OTLP over HTTP/protobuf when the standard variables ask for it (OTEL_TRACES_EXPORTER=otlp, or
  OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set);
- otherwise one JSON object per span and line in FIGKIT_TRACE_FILE (default
  <var dir>/traces.jsonl), which every process of a machine appends to;
- nowhere with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: then nothing is instrumented,
  and the seam's calls here return at once.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

log = logging.getLogger("extracted.seam.tracing")

OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACE_FILE = "traces.jsonl"
# Probes answer every few seconds; their spans would bury the requests that matter.
EXCLUDED_URLS = "/healthz,/readyz"

_tracer: trace.Tracer | None = None  # None: tracing is off in this process
_configured = False
_lock = threading.Lock()


@dataclass(frozen=True)
class Destinations:
    """Where this process's spans go, as the environment says."""

    otlp: bool = False
    file: Path | None = None
    unknown: tuple[str, ...] = ()  # OTEL_TRACES_EXPORTER names this kit does not ship

    @property
    def any(self) -> bool:
        return self.otlp or self.file is not None


def destinations(env: Mapping[str, str], var_dir: Path) -> Destinations:
    """The exporters the standard OTEL_* variables (and FIGKIT_TRACE_FILE) ask for.

    The file is the default; OTLP replaces it when asked for, unless FIGKIT_TRACE_FILE names a
    file explicitly, which is then written as well. Under pytest (PYTEST_VERSION, which its
    subprocesses inherit) only an explicit ask turns tracing on: pytest-django sets Django up,
    and so this, before any conftest runs, and a traced test process would rewrite the
    traceparent of every httpx request its tests send.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Destinations()
    names = {n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")} - {""}
    if "none" in names:
        return Destinations()
    endpoint = any(env.get(key) for key in OTLP_ENDPOINTS)
    otlp = "otlp" in names or (not names and endpoint)
    explicit = env.get("FIGKIT_TRACE_FILE", "").strip()
    if "PYTEST_VERSION" in env and not (explicit or names or endpoint):
        return Destinations()
    file = Path(explicit) if explicit else (None if otlp else var_dir / TRACE_FILE)
    return Destinations(otlp, file, tuple(sorted(names - {"otlp"})))


def configure(service_name: str | Callable[[], str]) -> bool:
    """Set up tracing for this process, once; True if it records spans. `service_name` is the
    resource's service.name (OTEL_SERVICE_NAME overrides it), or a function that reads it.

    Never raises: if setting up fails, one warning says why and tracing stays off, so the data
    path runs as it would without it.
    """
    global _configured, _tracer
    with _lock:
        if _configured:
            return _tracer is not None
        _configured = True
        try:
            where = destinations(os.environ, _var_dir())
            if where.unknown:
                log.warning(
                    "OTEL_TRACES_EXPORTER=%s: this kit ships the otlp exporter (and the JSON-lines "
                    "file); ignoring %s",
                    os.environ.get("OTEL_TRACES_EXPORTER"),
                    ", ".join(where.unknown),
                )
            if where.any:
                _tracer = _start(
                    service_name if isinstance(service_name, str) else service_name(), where
                )
        except Exception as exc:  # noqa: BLE001 - tracing must never stop the process
            log.warning("tracing is off: setting it up failed (%s: %s)", type(exc).__name__, exc)
            _tracer = None
    return _tracer is not None


def current_traceparent() -> str | None:
    """The active span's W3C traceparent (inside a traced request: its server span's)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def relay_span(event: Any) -> AbstractContextManager[Any]:
    """A PRODUCER span for sending one outbox event, child of the trace the change was made in
    (its stored traceparent); an event written outside any trace starts its own."""
    if _tracer is None:
        return nullcontext()
    try:
        return _tracer.start_as_current_span(
            f"seam.relay {event.event_type}",
            context=_parent({"traceparent": event.traceparent} if event.traceparent else {}),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.operation.type": "send",
                "messaging.destination.name": event.destination,
                "messaging.message.id": str(event.event_id),
                "seam.aggregate": f"{event.aggregate_type}:{event.aggregate_id}",
                "seam.version": event.version,
                "seam.outbox.seq": getattr(event, "seq", None) or 0,
            },
        )
    except Exception as exc:  # noqa: BLE001 - a span is never worth a relay that stops
        _failed("relay_span", exc)
        return nullcontext()


def headers_for(event: Any) -> dict[str, str]:
    """Message headers that carry the trace to the consumer: the relay span's context when
    tracing is on (call it inside relay_span), else the event's own traceparent, passed on."""
    if _tracer is not None:
        carrier: dict[str, str] = {}
        try:
            propagate.inject(carrier)
        except Exception as exc:  # noqa: BLE001
            _failed("headers_for", exc)
        if carrier:
            return carrier
    return {"traceparent": event.traceparent} if event.traceparent else {}


@contextmanager
def consumer_span(
    headers: Mapping[str, Any] | None, envelope: Mapping[str, Any], queue: str
) -> Iterator[trace.Span]:
    """A CONSUMER span for applying one message, child of the traceparent in its headers (or, for
    a message from an untraced relay, of the one in the event). Yields the span, to note the
    outcome on; a no-op span when tracing is off."""
    if _tracer is None:
        yield trace.INVALID_SPAN
        return
    try:
        span = _start_consumer_span(headers, envelope, queue)
    except Exception as exc:  # noqa: BLE001 - never in the way of applying the event
        _failed("consumer_span", exc)
        yield trace.INVALID_SPAN
        return
    with trace.use_span(span, end_on_exit=True):
        yield span


def consumer_spans_done(
    messages: list[tuple[Mapping[str, Any] | None, Mapping[str, Any]]],
    outcomes: list[str],
    queue: str,
    started_ns: int,
) -> None:
    """The CONSUMER spans of a batch applied in one transaction from STARTED_NS to now: one per
    message, each in its own message's trace, so a request's trace still reaches its consumer."""
    if _tracer is None:
        return
    try:
        for (headers, envelope), outcome in zip(messages, outcomes, strict=True):
            span = _start_consumer_span(headers, envelope, queue, started_ns)
            span.set_attribute("seam.outcome", outcome)
            span.set_attribute("seam.batch", len(messages))
            span.end()
    except Exception as exc:  # noqa: BLE001 - never in the way of applying the events
        _failed("consumer_spans_done", exc)


def _start_consumer_span(
    headers: Mapping[str, Any] | None, envelope: Mapping[str, Any], queue: str,
    start_ns: int | None = None,
) -> trace.Span:  # fmt: skip
    assert _tracer is not None
    carrier = {k: v for k, v in (headers or {}).items() if isinstance(v, str)}
    if "traceparent" not in carrier and isinstance(envelope.get("traceparent"), str):
        carrier["traceparent"] = envelope["traceparent"]
    return _tracer.start_span(
        f"seam.consume {envelope.get('type', '?')}",
        context=_parent(carrier),
        kind=trace.SpanKind.CONSUMER,
        start_time=start_ns,
        attributes={
            "messaging.operation.type": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": str(envelope.get("id", "")),
            "seam.aggregate": f"{envelope.get('aggregate_type')}:{envelope.get('aggregate_id')}",
            "seam.version": int(envelope.get("version") or 0),
        },
    )


def _parent(carrier: Mapping[str, str]) -> Context:
    """The context a carrier's traceparent names; an empty one (a new trace) without it, never
    whatever span happens to be current."""
    return propagate.extract(carrier) if carrier else Context()


_warned: set[str] = set()


def _failed(where: str, exc: Exception) -> None:
    if where not in _warned:
        _warned.add(where)
        log.warning("tracing: %s failed (%s: %s); going on without", where, type(exc).__name__, exc)


# -- setting up ------------------------------------------------------------------------------


class AppendOnlyLines(io.TextIOBase):
    """A text stream whose every write() is one write(2) on an O_APPEND descriptor.

    The exporter writes one whole line per span, so processes sharing the file (server, relay,
    consumer, Celery's pool) never interleave partial lines: one file to read a trace from, not
    one per process. A buffered file object could split a line across two writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None  # opened at the first span: a process that records none
        # (a one-off manage.py command) leaves no file behind

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, text.encode())
        return len(text)


def _one_line(span: Any) -> str:
    return span.to_json(indent=None) + "\n"


def _var_dir() -> Path:
    from django.conf import settings

    configured = getattr(settings, "VAR_DIR", None) if settings.configured else None
    return Path(configured or os.environ.get("FIGKIT_VAR_DIR") or "var")


def _start(service_name: str, where: Destinations) -> trace.Tracer:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current  # set up already (the opentelemetry-instrument launcher): add nothing
    else:
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        # shutdown_on_exit (the default) flushes the batches at interpreter exit.
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if where.file is not None:
            out = AppendOnlyLines(where.file)
            exporter = ConsoleSpanExporter(out=out, formatter=_one_line)  # type: ignore[arg-type]
            provider.add_span_processor(BatchSpanProcessor(exporter))
        if where.otlp:
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        trace.set_tracer_provider(provider)
    _instrument(provider)
    return provider.get_tracer("extracted.seam")


def _otlp_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol and protocol != "http/protobuf":
        log.warning("OTLP protocol %r is not shipped here; sending http/protobuf", protocol)
    return OTLPSpanExporter()  # endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*


def _instrument(provider: Any) -> None:
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    excluded = None if os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") else EXCLUDED_URLS
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    # Celery's instrumentation ends its publish span only for a task it finds in the current
    # app's registry; the relay sends `seam.apply_event` by name, so register the task here.
    import extracted.seam.tasks  # noqa: F401

    # A prefork pool's child leaves with os._exit, past atexit: flush its spans on the way out.
    signals.worker_process_shutdown.connect(lambda **_: provider.force_flush(), weak=False)
