"""The access log names each request's trace and the proxy's own span in it, so the proxy's hop
shows in a trace read from the services' spans (docs/tracing.md)."""

from __future__ import annotations

import json
import time

import httpx

from strangler_proxy.access_log import AccessLog

INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_access_log_names_the_trace_and_the_proxy_span_the_upstream_saw(start_proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    proxy = start_proxy(access_log=str(log))
    resp = httpx.get(
        f"{proxy.url}/echo", headers={"X-Request-ID": "traced-1", "traceparent": INCOMING}
    )
    sent_upstream = dict(resp.json()["headers"])["traceparent"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and "traced-1" not in (
        log.read_text() if log.exists() else ""
    ):
        time.sleep(0.05)
    line = next(json.loads(x) for x in log.read_text().splitlines() if "traced-1" in x)
    _, trace_id, span_id, _ = sent_upstream.split("-")
    assert line["trace_id"] == trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == span_id != "b7ad6b7169203331", (
        "the proxy's own span, not the client's"
    )


def test_a_request_refused_before_it_was_planned_has_no_trace(tmp_path):
    log = AccessLog(tmp_path / "access.jsonl")
    log.request("-", "-", "-", "(refused)", "-", 400, 0.0, "127.0.0.1", 3)
    log.close()
    line = json.loads((tmp_path / "access.jsonl").read_text())
    assert line["trace_id"] is None and line["span_id"] is None and line["status"] == 400
