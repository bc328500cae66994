"""One W3C trace from the strangler proxy to the consumer, with real processes on the embedded
defaults (SQLite, kombu's filesystem broker): a PATCH sent through the proxy with a known
traceparent, the monolith's server span under the proxy's span, the outbox event keeping that
span, the relay's span under it, the broker message under the relay, and the catalog service's
consumer span under the message, whichever consumer runs (`consume` or a Celery worker)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from extracted.seam.tracing import Destinations, destinations
from tests.extracted.stack import Stack
from tests.extracted.stopping import stop_together

SEED = """
from decimal import Decimal
from legacy_monolith.catalog.models import Brand, Category, Product
lamps = Category.objects.create(slug="lamps", name="Lamps")
lumen = Brand.objects.create(slug="lumen", name="Lumen")
Product.objects.create(name="Lamp", slug="lamp-1", category=lamps, brand=lumen, base_price=Decimal("20.00"))
"""


class TracedStack(Stack):
    """Both sides with tracing asked for explicitly (a test run is otherwise untraced), spans
    exported within 0.1 s, and no OTEL_* of the caller's."""

    @property
    def trace_file(self) -> Path:
        return self.root / "var" / "traces.jsonl"

    def env(self, side: str) -> dict[str, str]:
        env = {k: v for k, v in super().env(side).items() if not k.startswith("OTEL_")}
        env.update(FIGKIT_TRACE_FILE=str(self.trace_file), OTEL_BSP_SCHEDULE_DELAY="100")
        return env


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict

    @classmethod
    def of(cls, line: str) -> Span:
        raw = json.loads(line)
        hex_ = lambda value: value.removeprefix("0x") if value else None  # noqa: E731
        return cls(raw["name"], raw["kind"].removeprefix("SpanKind."),
                   raw["resource"]["attributes"]["service.name"], hex_(raw["context"]["trace_id"]),
                   hex_(raw["context"]["span_id"]), hex_(raw["parent_id"]), raw["attributes"])  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = TracedStack(tmp_path_factory.mktemp("traced"))
    try:
        with ThreadPoolExecutor(2) as pool:  # each side, and the proxy, side by side
            catalog = pool.submit(stack.manage, "catalog", "migrate", "-v0")
            proxy = pool.submit(stack.serve_proxy, routes=[])  # unrouted traffic: the monolith
            stack.manage("monolith", "migrate", "-v0")
            stack.shell("monolith", SEED)  # its category and brand events go before the product's
            stack.manage("monolith", "relay_outbox", "--once")
            catalog.result()
            consumed = pool.submit(stack.manage, "catalog", "consume", "--once")
            stack.serve_monolith()
            consumed.result()
            proxy.result()
        stack.wait_http(f"{stack.proxy_url}/api/health", "proxy")
        yield stack
    finally:
        stop_together(stack)


def patch_through_the_proxy(stack: TracedStack, trace_id: str, price: str) -> dict:
    """PATCH the product through the proxy inside the caller's trace; the proxy's access line."""
    response = httpx.patch(
        f"{stack.proxy_url}/api/products/lamp-1/",
        json={"base_price": price},
        headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01", "X-Request-ID": trace_id},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    access = stack.root / "var" / "access.jsonl"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(x) for x in access.read_text().splitlines() if trace_id in x]
        if lines:
            return lines[0]
        time.sleep(0.05)
    pytest.fail(f"the proxy logged no line for request {trace_id}")


def spans_of(stack: TracedStack, trace_id: str, expected: int) -> list[Span]:
    deadline = time.monotonic() + 10
    found: list[Span] = []
    while time.monotonic() < deadline:
        text = stack.trace_file.read_text() if stack.trace_file.exists() else ""
        found = [s for s in map(Span.of, text.splitlines()) if s.trace_id == trace_id]
        if len(found) >= expected:
            return found
        time.sleep(0.1)
    pytest.fail(
        f"{len(found)} span(s) of trace {trace_id} after 10 s, {expected} expected: {found}"
    )


def one(spans: list[Span], **match) -> Span:
    hits = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(hits) == 1, f"{len(hits)} spans match {match} in {spans}"
    return hits[0]


def outbox_traceparent(stack: TracedStack, event_id: str) -> str:
    with sqlite3.connect(stack.root / "var" / "legacy_monolith.sqlite3") as db:
        [(traceparent,)] = db.execute(
            "SELECT traceparent FROM seam_outbox WHERE replace(event_id, '-', '') = ?",
            [event_id.replace("-", "")],
        )
    return traceparent


def assert_the_trace_runs_from_the_proxy_to_the_message(
    stack: TracedStack, trace_id: str, access: dict, spans: list[Span]
) -> Span:
    """Proxy -> monolith request -> outbox event -> relay -> broker message; the message's span."""
    assert access["trace_id"] == trace_id
    request = one(spans, kind="SERVER", service="monolith")
    assert request.name.startswith("PATCH") and request.parent_id == access["span_id"], (
        "the monolith's request is a child of the proxy's span"
    )
    relay = one(spans, name="seam.relay catalog.product.upserted")
    assert (relay.kind, relay.service, relay.parent_id) == ("PRODUCER", "monolith", request.span_id)
    event_id = relay.attributes["messaging.message.id"]
    assert outbox_traceparent(stack, event_id) == f"00-{trace_id}-{request.span_id}-01", (
        "the outbox event keeps the request's span"
    )
    message = one(spans, name="apply_async/seam.apply_event")
    assert (message.kind, message.service, message.parent_id) == (
        "PRODUCER", "monolith", relay.span_id,
    )  # fmt: skip
    assert message.attributes["messaging.message.id"] == event_id
    return message


def test_one_trace_runs_from_the_proxy_through_the_relay_to_the_consume_command(stack):
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    access = patch_through_the_proxy(stack, trace_id, "25.00")
    stack.manage("monolith", "relay_outbox", "--once")
    assert "1 applied" in stack.manage("catalog", "consume", "--once").stdout
    spans = spans_of(stack, trace_id, expected=4)
    message = assert_the_trace_runs_from_the_proxy_to_the_message(stack, trace_id, access, spans)
    consumer = one(spans, name="seam.consume catalog.product.upserted")
    assert (consumer.kind, consumer.service, consumer.parent_id) == (
        "CONSUMER", "catalog", message.span_id,
    )  # fmt: skip
    assert consumer.attributes["seam.outcome"] == "applied"
    assert len(spans) == 4, [s.name for s in spans]


def test_a_celery_worker_continues_the_same_trace(stack):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    access = patch_through_the_proxy(stack, trace_id, "26.00")
    stack.manage("monolith", "relay_outbox", "--once")
    stack.start("worker", "catalog", argv=["-m", "celery", "-A", "extracted.catalog", "worker",
                                           "-Q", stack.queue("catalog"), "-c", "1", "--loglevel", "warning"])  # fmt: skip
    try:
        spans = spans_of(stack, trace_id, expected=4)
    finally:
        stack.kill("worker", sig=15)
    message = assert_the_trace_runs_from_the_proxy_to_the_message(stack, trace_id, access, spans)
    task = one(spans, name="run/seam.apply_event")
    assert (task.kind, task.service, task.parent_id) == ("CONSUMER", "catalog", message.span_id)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Destinations(file=Path("v/traces.jsonl"))),
        ({"FIGKIT_TRACE_FILE": "/t.jsonl"}, Destinations(file=Path("/t.jsonl"))),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, Destinations(otlp=True)),
        ({"OTEL_TRACES_EXPORTER": "otlp", "FIGKIT_TRACE_FILE": "/t"}, Destinations(True, Path("/t"))),
        ({"OTEL_TRACES_EXPORTER": "none"}, Destinations()),
        ({"OTEL_SDK_DISABLED": "true", "FIGKIT_TRACE_FILE": "/t"}, Destinations()),
        ({"PYTEST_VERSION": "9"}, Destinations()),
        ({"PYTEST_VERSION": "9", "FIGKIT_TRACE_FILE": "/t"}, Destinations(file=Path("/t"))),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, Destinations(file=Path("v/traces.jsonl"), unknown=("zipkin",))),
    ],
)  # fmt: skip
def test_the_standard_variables_choose_where_spans_go(env, expected):
    assert destinations(env, Path("v")) == expected


def test_a_set_up_that_fails_leaves_one_warning_and_tracing_off(monkeypatch):
    from extracted.seam import tracing

    def broken(*_):
        raise OSError("no space left on device")

    monkeypatch.setattr(tracing, "_configured", False)
    monkeypatch.setattr(tracing, "_tracer", None)
    monkeypatch.setattr(tracing, "_start", broken)
    monkeypatch.setenv("FIGKIT_TRACE_FILE", "/nowhere/traces.jsonl")
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    # Heard on the logger itself: earlier tests in the same process (servers run in-process,
    # Celery, Django's own set-up) may have disabled loggers, raised levels or logging.disable().
    logger = logging.getLogger("extracted.seam.tracing")
    heard: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    monkeypatch.setattr(logging.root.manager, "disable", logging.NOTSET)
    logger.addHandler(handler)
    try:
        assert tracing.configure("monolith") is False
        assert tracing.configure("monolith") is False, "once per process"
    finally:
        logger.removeHandler(handler)
    assert heard == ["tracing is off: setting it up failed (OSError: no space left on device)"]


def test_untraced_the_relay_passes_the_events_traceparent_on(monkeypatch):
    from types import SimpleNamespace

    from extracted.seam import tracing

    monkeypatch.setattr(tracing, "_tracer", None)
    event = SimpleNamespace(traceparent="00-0af7651916cd43dd8448eb211c80319c-ec8e8713a97f3774-01")
    with tracing.relay_span(event):
        assert tracing.headers_for(event) == {"traceparent": event.traceparent}
    assert tracing.headers_for(SimpleNamespace(traceparent=None)) == {}
