"""The data path: HTTP/1.1 at the protocol level, on uvloop and httptools (llhttp, strict).

Not ASGI and not a general-purpose client. A `ClientConnection` parses requests as bytes
arrive; each whole head becomes an `Exchange`, served in order (pipelined requests wait
their turn, their bodies buffered up to a bound). An exchange runs the pure plan step
(plan.py), the route's behaviours (behaviours/), then relays: it writes the planned head
to a pooled upstream connection (upstreams.py) and streams bodies both ways, pausing the
side that reads whenever the other side's write buffer is full, so a 1 GiB body costs a
few buffers of memory. Every wait has a bound (proxy.toml): reading a head
(header_timeout), between two reads of a body (body_timeout), an idle keep-alive
connection (keepalive_timeout), a pooled connection (pool_timeout), connecting and
reading upstream (connect_timeout, read_timeout).

Client faults are answered 400/408/413/431/501 and close the connection; they are never
counted against an upstream. Upstream faults are answered from one table (ERRORS).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
import time
from collections import deque
from typing import Any

import httptools

from strangler_proxy import metrics, rollout, route_changes
from strangler_proxy.access_log import AccessLog
from strangler_proxy.auto_rollback import Watch
from strangler_proxy.behaviours import UNANSWERED, Behaviour, chain_for
from strangler_proxy.config import ProxyConfig
from strangler_proxy.forwarding import TrustedHops, response_headers
from strangler_proxy.mirror import Mirror
from strangler_proxy.plan import DEFAULT_ROUTE, Call, Refusal, RequestHead, head_bytes, plan
from strangler_proxy.routing import Route, RouteTable
from strangler_proxy.store import RouteStore, open_store
from strangler_proxy.upstreams import Upstream, UpstreamConnection, UpstreamUnavailable

log = logging.getLogger("figkit.proxy")

# One table of what the proxy answers itself: status and reason phrase per error code.
ERRORS: dict[str, int] = {
    "bad_request": 400,
    "request_timeout": 408,
    "headers_too_large": 431,
    "not_implemented": 501,
    "unknown_upstream": 502,
    "upstream_unreachable": 502,
    "upstream_failed": 502,
    "upstream_busy": 503,
    "upstream_open": 503,
    "fault_injected": 503,
    "shutting_down": 503,
    "upstream_timeout": 504,
}
# Which upstream failure answers with which error code.
UPSTREAM_FAILURES: dict[str, str] = {
    "connect": "upstream_unreachable",
    "broken": "upstream_failed",
    "closed": "upstream_failed",
    "timeout": "upstream_timeout",
    "busy": "upstream_busy",
}
REASONS: dict[int, bytes] = {
    100: b"Continue", 101: b"Switching Protocols", 200: b"OK", 201: b"Created", 204: b"No Content",
    301: b"Moved Permanently", 302: b"Found", 304: b"Not Modified", 400: b"Bad Request",
    404: b"Not Found", 408: b"Request Timeout", 413: b"Content Too Large",
    431: b"Request Header Fields Too Large", 499: b"Client Closed Request",
    501: b"Not Implemented", 502: b"Bad Gateway", 503: b"Service Unavailable",
    504: b"Gateway Timeout",
}  # fmt: skip
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_BUFFER_LIMIT = 256 * 1024  # request body held while no upstream connection is ready yet
_WRITE_HIGH = 256 * 1024  # a transport's write buffer above this pauses the other side
_LINGER = 2.0  # seconds a closing connection still reads (and drops) what the client sends

# Why the client connection's reading is paused (bit flags; reading resumes when none is left).
_P_UPSTREAM = 1  # the upstream cannot take the request body as fast as the client sends it
_P_BUFFER = 2  # body arrives before there is an upstream connection to send it to
_P_PIPELINE = 4  # a later request waits for the one in flight
_P_UPGRADE = 8  # a protocol switch waits for the upstream's 101
_P_DONE = 16  # nothing more will be read (client fault, closing)

_IDLE, _HEAD, _BODY = 1, 2, 3
# Retried (once, within the upstream's retry budget): RFC 9110's idempotent methods, and
# only failures where the upstream cannot have acted (not a timeout).
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
_RETRYABLE = frozenset({"upstream_unreachable", "upstream_failed"})


class Exchange:
    """One request and its response, from the parsed head to the last byte."""

    __slots__ = (
        "conn", "head", "length_in", "chunked_in", "body_done", "got_body", "buffer",
        "buffered", "upstream", "pool", "expect", "response_started", "chunked_out", "status",
        "future", "keep_alive", "early", "call", "route_name", "target", "started",
        "request_sent", "tee", "tee_cap", "tee_out", "tee_out_cap", "finished", "fault", "upgraded", "retry", "pending", "extra_headers", "failure", "injected", "tee_headers", "complete",
    )  # fmt: skip

    def __init__(
        self,
        conn: ClientConnection,
        head: RequestHead,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.conn = conn
        self.head = head
        self.length_in = length
        self.chunked_in = chunked
        self.body_done = not chunked and not length
        self.got_body = False
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.upstream: UpstreamConnection | None = None
        self.pool: Any = None
        self.expect = False
        self.response_started = False
        self.chunked_out = False
        self.status = 0
        self.future: asyncio.Future | None = None
        self.keep_alive = keep_alive
        self.early = b""
        self.call: Call | None = None
        self.route_name = DEFAULT_ROUTE
        self.target = "-"
        self.started = time.perf_counter()
        self.request_sent = False
        self.tee: list[bytes] | None = None  # request body bytes kept for behaviours
        self.tee_cap = 0
        self.tee_out: list[bytes] | None = None  # response body bytes kept likewise
        self.tee_out_cap = 0
        self.finished = False
        self.fault: tuple[str, str] | None = None
        self.upgraded = False
        self.retry = False
        # Response bytes from one upstream read, written to the client in one go (flush()):
        # a small response costs one write, not one for the head and one for the body.
        self.pending: list[bytes] | None = None
        self.extra_headers: list[bytes] | None = None  # lines a behaviour adds to the response
        self.failure: tuple[str, str] | None = None  # (error code, detail) not answered yet
        self.injected = False  # a fault injected by `figkit routes fault` answered it
        self.tee_headers: list | None = None  # the upstream's response headers, when teeing
        self.complete = False  # the upstream's whole response was relayed

    def start_tee(self, request_cap: int, response_cap: int) -> None:
        """Keep up to these many bytes of the request and response bodies (and the response
        headers) for a behaviour's observe(), beside the stream; what arrived with the head
        is kept too."""
        if request_cap and self.tee is None:
            self.tee, self.tee_cap = [], request_cap
            for early in self.buffer:
                if self.tee_cap > 0:
                    self.tee.append(early[: self.tee_cap])
                    self.tee_cap -= len(self.tee[-1])
        if response_cap and self.tee_out is None:
            self.tee_out, self.tee_out_cap = [], response_cap

    def add_response_header(self, line: bytes) -> None:
        """Add `Name: value` to the response the client gets (a behaviour's cookie, say)."""
        if self.extra_headers is None:
            self.extra_headers = []
        self.extra_headers.append(line)

    # --- the request body, as the client connection parses it ------------------------
    def body(self, data: bytes) -> None:
        self.got_body = True
        if self.tee is not None and self.tee_cap > 0:
            piece = data[: self.tee_cap]
            self.tee.append(piece)
            self.tee_cap -= len(piece)
        up = self.upstream
        if up is not None:
            if self.chunked_in:
                up.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                up.write(data)
            return
        self.buffer.append(data)
        self.buffered += len(data)
        if self.buffered > _BUFFER_LIMIT:
            self.conn.pause(_P_BUFFER)

    def body_complete(self) -> None:
        self.body_done = True
        up = self.upstream
        if up is not None:
            if self.chunked_in:
                up.write(_LAST_CHUNK)
            self.request_sent = True

    def flush_to(self, up: UpstreamConnection) -> None:
        """Send what the client sent before the upstream connection was ready."""
        if self.buffer:
            if self.chunked_in:
                parts = []
                for data in self.buffer:
                    parts += [b"%x\r\n" % len(data), data, b"\r\n"]
                up.writelines(parts)
            else:
                up.writelines(self.buffer)
            self.buffer = []
            self.buffered = 0
        if self.body_done:
            if self.chunked_in:
                up.write(_LAST_CHUNK)
            self.request_sent = True
        self.conn.resume(_P_BUFFER)

    # --- ResponseSink: the upstream connection's events -------------------------------
    def response_head(
        self,
        up: UpstreamConnection,
        status: int,
        reason: bytes,
        headers: list,
        length: int | None,
        chunked: bool,
    ) -> None:
        conn = self.conn
        self.status = status
        self.response_started = True
        if self.tee_out is not None:
            self.tee_headers = headers
        method = self.head.method
        if status == 101:
            out = response_headers(headers, keep=frozenset({b"upgrade", b"connection"}))
        else:
            out = response_headers(headers)
        lines = [b"HTTP/1.1 %d %s" % (status, reason or REASONS.get(status, b""))]
        lines += [name + b": " + value for name, value in out]
        if b"\nx-request-id:" not in b"\n".join(lines).lower():
            lines.append(b"X-Request-ID: " + self.call.request_id)  # type: ignore[union-attr]
        if self.extra_headers is not None:
            lines += self.extra_headers
        if conn.worker.debug_headers:
            lines.append(b"X-Figkit-Route: " + self.route_name.encode())
            lines.append(b"X-Figkit-Upstream: " + self.target.encode())
        if status == 101:
            pass
        elif method == b"HEAD" or status == 304 or status == 204:
            if length is not None and status != 204:
                lines.append(b"Content-Length: %d" % length)
        elif length is not None:
            lines.append(b"Content-Length: %d" % length)
        elif self.head.http11:
            lines.append(b"Transfer-Encoding: chunked")
            self.chunked_out = True
        else:
            self.keep_alive = (
                False  # HTTP/1.0 and no length: the end of the connection ends the body
            )
        if conn.worker.closing or self.head.upgrade and status != 101:
            self.keep_alive = False
        if status != 101:
            if not self.keep_alive:
                lines.append(b"Connection: close")
            elif not self.head.http11:
                lines.append(b"Connection: keep-alive")
        lines.append(b"\r\n")
        self.pending = [b"\r\n".join(lines)]

    def response_body(self, data: bytes) -> None:
        if self.tee_out_cap > 0:
            piece = data[: self.tee_out_cap]
            self.tee_out.append(piece)  # type: ignore[union-attr]
            self.tee_out_cap -= len(piece)
        pending = self.pending
        if pending is None:
            if self.chunked_out:
                self.conn.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                self.conn.write(data)
        elif self.chunked_out:
            pending += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            pending.append(data)

    def flush(self) -> None:
        """Write what one upstream read produced; pause that upstream if the client is behind."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        conn = self.conn
        conn.write(pending[0] if len(pending) == 1 else b"".join(pending))
        if conn.write_paused and self.upstream is not None:
            self.upstream.pause_reading()

    def response_done(self, reusable: bool) -> None:
        up, self.upstream = self.upstream, None
        if self.chunked_out:
            if self.pending is not None:
                self.pending.append(_LAST_CHUNK)
            else:
                self.conn.write(_LAST_CHUNK)
        self.flush()
        if not self.request_sent:
            reusable = False  # the upstream answered before the whole body was sent
            self.keep_alive = False
        if up is not None:
            self.pool.release(up, reusable)
        self.complete = True
        self._end(self.status)

    def response_upgraded(self, rest: bytes) -> None:
        """The upstream switched protocols (101): from now on bytes are spliced both ways."""
        self.upgraded = True
        self.flush()
        conn = self.conn
        conn.splice = self.upstream
        if rest:
            conn.write(rest)
        if self.early:
            self.upstream.write(self.early)  # type: ignore[union-attr]
            self.early = b""
        conn.resume(_P_UPGRADE | _P_PIPELINE | _P_BUFFER)

    def spliced_data(self, data: bytes) -> None:
        self.conn.write(data)

    def upstream_failed(self, kind: str, detail: str) -> None:
        up, self.upstream = self.upstream, None
        if up is not None:
            up.abort()
        if self.upgraded:  # one side of a splice closed: close the other
            self.conn.close()
            self._end(101)
            return
        if self.response_started:
            # A response cut short must not look whole to the client: close, do not end it.
            self.conn.worker.metrics.upstream_error(self.target, kind)
            self.keep_alive = False
            self.conn.abort()
            self._end(self.status)
            return
        if (
            kind == "broken"
            and up is not None
            and up.used > 1
            and not up.got_bytes
            and not self.got_body
            and self.body_done
            and not self.retry
        ):
            self.retry = True  # a pooled connection the upstream had closed: try a fresh one
            self._end(-1)
            return
        self.conn.worker.metrics.upstream_error(self.target, kind)
        self.failure = (UPSTREAM_FAILURES[kind], f"upstream {self.target!r} {detail}")
        self._end(UNANSWERED)

    def upstream_pause_writing(self) -> None:
        self.conn.pause(_P_UPSTREAM)

    def upstream_resume_writing(self) -> None:
        self.conn.resume(_P_UPSTREAM)

    # --- the end ---------------------------------------------------------------------
    def client_fault(self, code: str, detail: str) -> None:
        """The client broke its own request mid-body (bad chunk, too slow): never the upstream's fault."""
        up, self.upstream = self.upstream, None
        if up is not None:
            up.abort()
        self.keep_alive = False
        if self.response_started:
            self.conn.abort()
            self._end(ERRORS[code])
        else:
            self._end(self.conn.answer(self, code, detail))

    def client_gone(self) -> None:
        up, self.upstream = self.upstream, None
        if up is not None:
            up.abort()
        self._end(101 if self.upgraded else 499)

    def _end(self, status: int) -> None:
        if status >= 0:
            self.status = status
        future = self.future
        if future is not None and not future.done():
            future.set_result(status)


class ClientConnection(asyncio.Protocol):
    """One client's connection: parses requests and serves them in order."""

    __slots__ = (
        "worker", "transport", "parser", "client", "queue", "parsing", "task", "paused",
        "write_paused", "lost", "timer", "deadline", "timer_kind", "fault", "splice",
        "head_bytes", "h_headers", "h_url", "h_count", "h_host", "h_host_count", "h_rid", "h_tp",
        "h_length", "h_chunked", "h_expect", "h_connection", "in_body", "in_head", "head_raw", "lingering",
    )  # fmt: skip

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: str | None = None
        self.queue: deque[Exchange] = deque()
        self.parsing: Exchange | None = None
        self.task: asyncio.Task | None = None
        self.paused = 0
        self.write_paused = False
        self.lost = False
        self.timer: asyncio.TimerHandle | None = None
        self.deadline = 0.0
        self.timer_kind = 0
        self.fault: tuple[str, str] | None = None
        self.splice: UpstreamConnection | None = None
        self.in_body = False
        self.in_head = False
        self.lingering = False
        self._reset_head()

    def _reset_head(self) -> None:
        self.head_bytes = 0
        self.head_raw = 0
        self.h_headers: list[tuple[bytes, bytes]] = []
        self.h_url = b""
        self.h_count = 0
        self.h_host: bytes | None = None
        self.h_host_count = 0
        self.h_rid: bytes | None = None
        self.h_tp: bytes | None = None
        self.h_length: int | None = None
        self.h_chunked = False
        self.h_expect = False
        self.h_connection: bytes | None = None

    # --- asyncio ---------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Without it, a response written in two parts (head, then a body that came in a
            # later upstream read) waits for the client's delayed ACK: 40 ms per request.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else None
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        self.worker.connections.add(self)
        if self.worker.closing:
            transport.close()
            return
        self._arm(_IDLE, self.worker.keepalive_timeout)

    def data_received(self, data: bytes) -> None:
        if self.splice is not None:
            self.splice.write(data)
            return
        if self.paused & _P_DONE:
            return
        in_head = self.in_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            ex = self.queue[-1] if self.queue else None
            if ex is not None and ex.head.upgrade:
                offset = exc.args[0] if exc.args else len(data)
                ex.early = data[offset:]
                self.pause(_P_UPGRADE)
            else:
                self._client_fault("bad_request", "a protocol switch this proxy does not relay")
        except httptools.HttpParserError as exc:
            if self.fault is None:
                code = (
                    "not_implemented"
                    if b"Transfer-Encoding" in str(exc).encode() and b"invalid" in str(exc).encode()
                    else "bad_request"
                )
                self._client_fault(code, _parser_message(exc))
            else:
                self._client_fault(*self.fault)
            return
        if in_head and self.in_head:
            # llhttp holds a header field until it ends: bound what an unfinished head may take.
            self.head_raw += len(data)
            if self.head_raw > self.worker.max_header_size:
                self._client_fault(
                    "headers_too_large", "the request head is larger than max_header_size"
                )

    def eof_received(self) -> bool:
        return False  # a client that half-closes is gone; close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._disarm()
        # The parser refers back to us: break the cycle so the connection (and its uvloop
        # transport) is freed here, in the loop's thread, not by the cycle collector in
        # whichever thread it happens to run.
        self.parser = None  # type: ignore[assignment]
        self.worker.connections.discard(self)
        splice, self.splice = self.splice, None
        if splice is not None:
            splice.abort()
        if self.queue:
            ex = self.queue[0]
            if ex.future is not None:
                ex.client_gone()
            elif self.task is not None:
                self.task.cancel()  # it may not have started: record the exchange here
                self.worker.record(ex, ex.status if ex.fault is not None else 499)
        elif self.parsing is not None or self.head_bytes:
            pass  # a head that never completed: nothing was forwarded

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.queue:
            up = self.queue[0].upstream or self.splice
            if up is not None:
                up.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.queue:
            up = self.queue[0].upstream or self.splice
            if up is not None:
                up.resume_reading()

    # --- httptools callbacks ---------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset_head()
        self.in_head = True
        self._arm(_HEAD, self.worker.header_timeout)

    def on_url(self, url: bytes) -> None:
        self.h_url += url
        if len(self.h_url) > self.worker.max_header_size:
            self.fault = ("headers_too_large", "the request target is longer than max_header_size")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_body:
            return  # a trailer field: dropped, as nginx does
        self.h_count += 1
        self.head_bytes += len(name) + len(value) + 4
        if self.h_count > self.worker.max_headers:
            self.fault = (
                "headers_too_large",
                f"more than {self.worker.max_headers} header fields (max_headers)",
            )
            raise _Refused
        lower = name.lower()
        if lower == b"host":
            self.h_host_count += 1
            self.h_host = value
        elif lower == b"content-length":
            self.h_length = int(value)
        elif lower == b"transfer-encoding":
            self.h_chunked = True
        elif lower == b"x-request-id":
            self.h_rid = value
        elif lower == b"traceparent":
            self.h_tp = value
        elif lower == b"expect":
            if value.lower() != b"100-continue":
                self.fault = (
                    "bad_request",
                    "the only expectation this proxy meets is 100-continue",
                )
                raise _Refused
            self.h_expect = True
        self.h_headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        if self.head_bytes > self.worker.max_header_size:
            self.fault = ("headers_too_large", "the request head is larger than max_header_size")
            raise _Refused
        self.in_head = False
        http11 = parser.get_http_version() == "1.1"
        head = RequestHead(
            parser.get_method(), self.h_url, http11, self.h_headers, self.client,
            self.h_host_count, self.h_host, self.h_rid, self.h_tp, None, parser.should_upgrade(),
        )  # fmt: skip
        keep = parser.should_keep_alive() and not head.upgrade
        ex = Exchange(self, head, self.h_length, self.h_chunked, keep)
        ex.expect = self.h_expect and http11
        self.parsing = ex
        self.queue.append(ex)
        self.in_body = True
        if ex.body_done:
            self.timer_kind = 0  # lazily: a pending timer finds nothing to do (no call per request)
        else:
            self._arm(_BODY, self.worker.body_timeout)
        if self.task is None:
            self.task = self.worker.loop.create_task(self._serve())

    def on_body(self, data: bytes) -> None:
        if self.timer_kind == _BODY:
            self.deadline = self.worker.loop.time() + self.worker.body_timeout
        self.parsing.body(data)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        ex = self.parsing
        self.parsing = None
        self.in_body = False
        self.head_bytes = 0
        if ex is None:
            return
        ex.body_complete()
        self.timer_kind = 0
        if self.queue and self.queue[0] is not ex:
            self.pause(_P_PIPELINE)  # one request in flight, one parsed: read no further

    # --- serving, in order -----------------------------------------------------------
    async def _serve(self) -> None:
        worker = self.worker
        try:
            while self.queue and not self.lost:
                ex = self.queue[0]
                await worker.exchange(ex)
                if self.lost:
                    return
                self.queue.popleft()
                if ex.upgraded:
                    return
                if not ex.keep_alive or (not ex.body_done and ex.fault is None):
                    self.close()
                    return
                if worker.closing and not self.queue:
                    self.close()
                    return
                self.resume(_P_PIPELINE)
            if self.fault is not None and not self.lost:
                self.answer(None, *self.fault)
        finally:
            self.task = None
            if not self.lost and not self.queue and self.parsing is None and self.fault is None:
                if worker.closing:
                    self.close()
                elif self.timer_kind != _HEAD:
                    self._arm(_IDLE, worker.keepalive_timeout)

    # --- faults and answers ----------------------------------------------------------
    def _client_fault(self, code: str, detail: str) -> None:
        self.pause(_P_DONE)
        self._disarm()
        ex = self.parsing
        if ex is not None and self.queue and self.queue[0] is ex and ex.future is not None:
            ex.fault = (code, detail)
            ex.client_fault(code, detail)  # its body broke while it was being forwarded
            return
        if ex is not None and self.queue and self.queue[0] is ex:
            ex.fault = (code, detail)  # not forwarded yet: answer now; the exchange sees the fault
            self.worker.record(ex, self.answer(ex, code, detail))
            self.close()
            return
        if ex is not None and ex in self.queue:
            self.queue.remove(ex)
        self.fault = (code, detail)
        if self.task is None:
            self.answer(None, code, detail)

    def answer(self, ex: Exchange | None, code: str, detail: str, status: int = 0) -> int:
        """Answer with one of the proxy's own errors (JSON); returns the status.

        The status is the error code's (ERRORS) unless given, as an injected fault's is;
        a given status keeps the connection open when it can.
        """
        given = status != 0
        status = status or ERRORS[code]
        rid = ex.call.request_id if ex is not None and ex.call is not None else None
        if rid is None:
            from strangler_proxy.forwarding import request_id

            rid = request_id(ex.head.request_id if ex is not None else None)
        close = ex is None or not ex.keep_alive or not ex.body_done or (status < 500 and not given)
        body = json.dumps({"error": code, "detail": detail, "request_id": rid.decode()}).encode()
        head = [
            b"HTTP/1.1 %d %s" % (status, REASONS.get(status, b"")),
            b"Content-Type: application/json",
            b"Content-Length: %d" % len(body),
            b"X-Request-ID: " + rid,
        ]
        if ex is not None and ex.extra_headers is not None:
            head += ex.extra_headers
        if close:
            head.append(b"Connection: close")
        if not self.lost:
            self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)  # type: ignore[union-attr]
        if ex is not None:
            ex.status = status
            ex.response_started = True
            if close:
                ex.keep_alive = False
        if ex is None:
            self.worker.record_refusal(self.client, status)
            self.close()
        return status

    # --- transport helpers -----------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.lost:
            self.transport.write(data)  # type: ignore[union-attr]

    def writelines(self, parts: list[bytes]) -> None:
        if not self.lost:
            self.transport.writelines(parts)  # type: ignore[union-attr]

    def pause(self, why: int) -> None:
        if not self.paused and not self.lost:
            self.transport.pause_reading()  # type: ignore[union-attr]
        self.paused |= why

    def resume(self, why: int) -> None:
        if not self.paused & why:
            return
        self.paused &= ~why
        if not self.paused and not self.lost:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def close_idle(self) -> None:
        """Close a connection with no request in progress: nothing is left to read."""
        self._disarm()
        self.paused |= _P_DONE
        if not self.lost:
            self.transport.close()  # type: ignore[union-attr]

    def close(self) -> None:
        """Close after what was written, lingering as nginx does.

        Our side stops sending; what the client still sends (a body we refused) is read
        and dropped for at most _LINGER seconds, so the client reads our answer instead of
        losing it to a connection reset.
        """
        if self.lingering or self.lost:
            return
        self._disarm()
        self.paused |= _P_DONE
        self.lingering = True
        transport = self.transport
        if transport.can_write_eof():  # type: ignore[union-attr]
            transport.write_eof()  # type: ignore[union-attr]
            transport.resume_reading()  # type: ignore[union-attr]
            self.timer = self.worker.loop.call_later(_LINGER, transport.abort)  # type: ignore[union-attr]
        else:
            transport.close()  # type: ignore[union-attr]

    def abort(self) -> None:
        self._disarm()
        if not self.lost:
            self.transport.abort()  # type: ignore[union-attr]

    def _arm(self, kind: int, seconds: float) -> None:
        """One timer per connection: moving the deadline later costs no call; earlier reschedules."""
        loop = self.worker.loop
        self.timer_kind = kind
        self.deadline = deadline = loop.time() + seconds
        timer = self.timer
        if timer is None or deadline < timer.when():
            if timer is not None:
                timer.cancel()
            self.timer = loop.call_at(deadline, self._on_timer)

    def _disarm(self) -> None:
        self.timer_kind = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        if self.timer_kind == 0 or self.lost:
            return
        if self.worker.loop.time() < self.deadline:
            self.timer = self.worker.loop.call_at(self.deadline, self._on_timer)
            return
        kind, self.timer_kind = self.timer_kind, 0
        if kind == _IDLE:
            self.close_idle()
        elif kind == _HEAD:
            self._client_fault(
                "request_timeout",
                f"the request head did not arrive within {self.worker.header_timeout:g} s (header_timeout)",
            )
        else:
            self._client_fault(
                "request_timeout",
                f"the request body stalled for {self.worker.body_timeout:g} s (body_timeout)",
            )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is refused."""


def _parser_message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"malformed request: {text}"


class Worker:
    """The data path of one process: listening sockets, upstream pools and the route table."""

    def __init__(self, config: ProxyConfig, tune_gc: bool = False) -> None:
        self.config = config
        proxy = config.proxy
        self._tune_gc = tune_gc
        self.upstreams = {name: Upstream(name, cfg) for name, cfg in config.upstreams.items()}
        self.default = proxy.default_upstream
        self.trusted = TrustedHops(proxy.trusted_proxies)
        self.debug_headers = proxy.debug_headers
        self.header_timeout = proxy.header_timeout
        self.body_timeout = proxy.body_timeout
        self.keepalive_timeout = proxy.keepalive_timeout
        self.max_header_size = proxy.max_header_size
        self.max_headers = proxy.max_headers
        self.table = RouteTable()
        self.chains: dict[str, tuple] = {}
        self.watches: dict[str, Watch] = {}  # route -> its service's outcomes (auto-rollback)
        # Shadow traffic: its queue and senders start with the first mirrored request.
        self.mirror = Mirror(config, self.upstreams)
        self._flushes = 0
        self._background: set[asyncio.Task] = set()
        self.store: RouteStore | None = None
        self.access_log: AccessLog | None = None
        self.metrics = metrics.Recorder()
        self.connections: set[ClientConnection] = set()
        self.closing = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._servers: list[asyncio.AbstractServer] = []
        self._poller: asyncio.Task | None = None
        self._last_poll_error = ""

    # --- lifecycle -------------------------------------------------------------------
    async def start(self, sockets: list[socket.socket]) -> None:
        self.loop = asyncio.get_running_loop()
        self.store = await asyncio.to_thread(open_store, self.config.proxy.store)
        await self.reload()
        for upstream in self.upstreams.values():
            upstream.start(self.loop)
        if self.config.proxy.access_log:
            self.access_log = AccessLog(self.config.proxy.access_log)
            self.access_log.start()
        for sock in sockets:
            self._servers.append(
                await self.loop.create_server(
                    lambda: ClientConnection(self), sock=sock, backlog=4096
                )
            )
        self._poller = self.loop.create_task(self._poll())
        if self._tune_gc:
            _tune_gc()

    async def stop(self, drain_seconds: float | None = None) -> None:
        """Stop accepting, let requests in flight finish (at most drain_seconds), then close."""
        drain = self.config.proxy.shutdown_timeout if drain_seconds is None else drain_seconds
        self.closing = True
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            if not conn.queue and conn.parsing is None and not conn.in_head:
                conn.close_idle()  # idle keep-alive connections go at once
        deadline = time.monotonic() + drain
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()
        for _ in range(3):
            await asyncio.sleep(0)  # let the aborted connections' connection_lost run
        if self._poller is not None:
            self._poller.cancel()
        await self.mirror.close()
        await self._flush_figures()
        self.metrics.flush()
        for upstream in self.upstreams.values():
            upstream.close()
        if self.access_log is not None:
            self.access_log.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)

    async def reload(self) -> None:
        snapshot = await asyncio.to_thread(self.store.snapshot)  # type: ignore[union-attr]
        table = RouteTable(snapshot.routes, snapshot.version)
        chains = {name: chain_for(route) for name, route in table.routes.items()}
        for chain in chains.values():
            for behaviour in chain:
                behaviour.configure(self.config)
        # A route whose policy runs no behaviour has no chain: it costs the seam nothing.
        self.chains = {
            name: _split_chain(chain, self.forward) for name, chain in chains.items() if chain
        }
        old = self.table.routes
        # A route whose policy changed (rolled back, promoted, set again) is watched afresh.
        self.watches = {
            name: watch
            for name, watch in self.watches.items()
            if name in table.routes
            and name in old
            and table.routes[name].policy == old[name].policy
        }
        self.table = table
        if self._tune_gc:
            gc.freeze()  # the new table is long-lived: keep the collector from walking it
        metrics.ROUTE_TABLE_VERSION.set(snapshot.version)
        await asyncio.to_thread(rollout.report, snapshot.version)

    async def _poll(self) -> None:
        interval = self.config.proxy.poll_interval
        flush_every = max(1, round(1.0 / interval))
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            if ticks % flush_every == 0:
                self.metrics.flush()
                await self._flush_figures()
                for upstream in self.upstreams.values():
                    metrics.BREAKER_STATE.labels(upstream.name).set(
                        metrics.BREAKER_VALUES[upstream.breaker.state]
                    )
            try:
                version = await asyncio.to_thread(self.store.version)  # type: ignore[union-attr]
                if version != self.table.version:
                    await self.reload()
                self._last_poll_error = ""
            except Exception as exc:  # keep serving the table we have; say so once
                message = f"route table not refreshed, serving version {self.table.version}: {exc}"
                if message != self._last_poll_error:
                    log.warning(message)
                    self._last_poll_error = message

    # --- one exchange ----------------------------------------------------------------
    async def exchange(self, ex: Exchange) -> None:
        # This request finishes on the table it started with.
        table, chains = self.table, self.chains
        conn = ex.conn
        status = 0
        try:
            call = plan(ex.head, table, self.default, self.trusted)
            if isinstance(call, Refusal):
                status = conn.answer(ex, call.code, call.detail)
                return
            ex.call = call
            ex.route_name = call.route_name
            chain = chains.get(call.route_name) if call.route is not None else None
            if chain is None:  # no behaviour: plain forwarding
                ex.target = call.upstream
                status = await self.forward(ex)
                if status == UNANSWERED:
                    status = conn.answer(ex, *ex.failure)  # type: ignore[misc]
                return
            choosers, wrapped, observers, tee, recoverers = chain
            for choose in choosers:
                choice = choose(ex)
                if isinstance(choice, Refusal):
                    status = conn.answer(ex, choice.code, choice.detail)
                    return
                if choice is not None:
                    call.upstream = choice
            if tee[0] or tee[1]:
                ex.start_tee(*tee)
            ex.target = call.upstream
            # The forwarding, inside the behaviours' wraps if they have any.
            status = await (wrapped or self.forward)(ex)
            if status == UNANSWERED:
                for recover in recoverers:
                    if recover(ex):  # try once more where the behaviour says (fallback)
                        ex.failure = None
                        ex.target = call.upstream
                        status = await self.forward(ex)
                        break
                if status == UNANSWERED:
                    status = conn.answer(ex, *ex.failure)  # type: ignore[misc]
            for observe in observers:
                observe(ex)
        except asyncio.CancelledError:
            if ex.fault is not None and ex.response_started:
                status = ex.status
            else:
                status = 499
                if ex.upstream is not None:
                    ex.upstream.abort()
                    ex.upstream = None
        finally:
            self.record(ex, status, table.version)

    def record(self, ex: Exchange, status: int, version: int | None = None) -> None:
        """Count and log one exchange, once."""
        if ex.finished:
            return
        ex.finished = True
        elapsed = time.perf_counter() - ex.started
        method = ex.head.method.decode("ascii")
        self.metrics.request(ex.route_name, ex.target, method, status, elapsed)
        if self.access_log is not None:
            self.access_log.request(
                (ex.call.request_id if ex.call else b"-").decode(), method,
                ex.head.target.decode("latin-1"), ex.route_name, ex.target, status, elapsed,
                ex.conn.client, self.table.version if version is None else version,
                ex.call.traceparent if ex.call else None,
            )  # fmt: skip

    async def forward(self, ex: Exchange) -> int:
        """Relay the exchange to its upstream: the head the plan built, then the bodies as they stream."""
        call = ex.call
        conn = ex.conn
        upstream = self.upstreams.get(call.upstream)  # type: ignore[union-attr]
        if upstream is None:
            return conn.answer(
                ex,
                "unknown_upstream",
                f"route {call.route_name!r} targets {call.upstream!r}, which this proxy's config does not name",  # type: ignore[union-attr]
            )
        breaker = upstream.breaker
        if not breaker.allow():
            ex.failure = (
                "upstream_open",
                f"upstream {upstream.name!r} is failing: its circuit breaker stays open "
                f"{breaker.seconds_left():.1f} s more",
            )
            return UNANSWERED
        status = 0
        try:
            status = await self._relay(ex, upstream)
            return status
        finally:
            if status == UNANSWERED:
                if ex.failure is not None and ex.failure[0] == "upstream_busy":
                    breaker.abandon()  # saturated, not down: max_connections is ours
                else:
                    breaker.record(False)
            elif status == 0 or ex.fault is not None or status == 499:
                breaker.abandon()  # cancelled, or the client's fault: no verdict on the upstream
            else:
                breaker.record(status not in (502, 503, 504))

    async def _relay(self, ex: Exchange, upstream: Upstream) -> int:
        """Send to one of the upstream's URLs; retry once elsewhere within the retry budget."""
        upstream.budget.request()
        avoid = None
        while True:
            pool = upstream.pick(avoid)
            status = await self._attempt(ex, upstream, pool)
            if status == UNANSWERED:
                if ex.failure is not None and ex.failure[0] != "upstream_busy":
                    pool.outcome(False)
                if (
                    avoid is None
                    and ex.failure is not None
                    and ex.failure[0] in _RETRYABLE
                    and ex.head.method in _IDEMPOTENT
                    and ex.body_done
                    and not ex.got_body
                    and not ex.head.upgrade
                    and not ex.conn.lost
                    and upstream.budget.try_retry()
                ):
                    self.metrics.retry(upstream.name)
                    avoid, ex.failure = pool, None
                    continue
            elif status != 499 and ex.fault is None:
                pool.outcome(status not in (502, 503, 504))
            return status

    async def _attempt(self, ex: Exchange, upstream: Upstream, pool: Any) -> int:
        call = ex.call
        conn = ex.conn
        for _attempt in range(3):
            try:
                up = await pool.acquire()
            except UpstreamUnavailable as exc:
                if exc.kind != "busy":
                    self.metrics.upstream_error(upstream.name, exc.kind)
                ex.failure = (UPSTREAM_FAILURES[exc.kind], f"upstream {upstream.name!r}: {exc}")
                return UNANSWERED
            if ex.fault is not None or conn.lost:
                pool.release(up, True)
                return ex.status if ex.fault is not None else 499
            if ex.chunked_in:
                framing = b"Transfer-Encoding: chunked"
            elif ex.length_in is not None:
                framing = b"Content-Length: %d" % ex.length_in
            else:
                framing = b""
            host = pool.netloc if upstream.config.host == "upstream" else None
            head = head_bytes(ex.head.method, call, framing, host)  # type: ignore[arg-type]
            future = ex.future = self.loop.create_future()
            ex.upstream = up
            ex.pool = pool
            up.send(ex, head, ex.head.method == b"HEAD")
            if ex.expect and not ex.got_body and not ex.body_done:
                conn.write(_CONTINUE)
            ex.flush_to(up)
            status = await future
            if status != -1:  # -1: a stale pooled connection, tried again on a fresh one
                return status
            ex.response_started = False
        ex.failure = ("upstream_failed", f"upstream {upstream.name!r} closed the connection")
        return UNANSWERED

    async def _flush_figures(self) -> None:
        """Add this worker's shadow and service figures of the last second to the store."""
        counts, noise, samples = self.mirror.take()
        for route, watch in self.watches.items():  # what each route's service served (gates)
            requests, errors = watch.take()
            if requests:
                into = counts.setdefault(route, {})
                into["requests"], into["errors"] = requests, errors
        shadowed = [name for name, r in self.table.routes.items() if r.policy.mode == "shadow"]
        if not counts and not noise and not samples and not shadowed:
            return
        store = self.store
        keep = self.config.proxy.shadow.samples
        self._flushes += 1
        prune = self._flushes % 60 == 1
        horizon = int(time.time() - 2 * self.config.proxy.gates.window_seconds)

        def write() -> dict[str, set[str]]:
            store.add_figures(int(time.time()), counts, noise, samples, keep)  # type: ignore[union-attr]
            if prune:
                store.prune_figures(horizon)  # type: ignore[union-attr]
            return store.noise(shadowed)  # type: ignore[union-attr]

        try:
            self.mirror.learned(await asyncio.to_thread(write))
        except Exception as exc:  # the figures of this second are lost; serving goes on
            log.warning("shadow and gate figures not saved: %s", exc)

    def service_outcome(self, route: str, failed: bool) -> None:
        """What a request to a route's service came to; enough failures roll the route back."""
        watch = self.watches.get(route)
        if watch is None:
            watch = self.watches[route] = Watch(self.config.proxy.rollback)
        reason = watch.record(failed)
        if reason is not None:
            log.warning("route %r: %s", route, reason)
            task = self.loop.create_task(asyncio.to_thread(self._roll_back, route, reason))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _roll_back(self, route: str, reason: str) -> None:
        try:
            with self.store.change(who="figkit", why=reason, action="auto-rollback") as tx:  # type: ignore[union-attr]
                route_changes.rollback(tx, route)
        except Exception as exc:  # the route stays where it is; say why
            log.error("route %r: automatic rollback failed: %s", route, exc)

    def record_refusal(self, client: str | None, status: int) -> None:
        """A request refused before it had a whole head: counted and logged, never as an upstream's."""
        self.metrics.request("(refused)", "-", "other", status, 0.0)
        if self.access_log is not None:
            self.access_log.request(
                "-", "-", "-", "(refused)", "-", status, 0.0, client, self.table.version
            )


def _wrapped(forward, wrappers: tuple):
    """The forwarding with each behaviour's wrap around it, the first behaviour outermost."""
    for wrap in reversed(wrappers):
        forward = (lambda inner, w: lambda ex: w(ex, inner))(forward, wrap)
    return forward


def _split_chain(chain: tuple[Behaviour, ...], forward) -> tuple:
    """(choosers, wrapped forward or None, observers, tee caps, recoverers): only the hooks overridden.

    The wraps are composed around `forward` once per table load, not per request.
    """
    hooks = [(b, *b.hooks()) for b in chain]
    choosers = tuple(b.choose for b, c, _, _, _ in hooks if c)
    wrappers = tuple(b.wrap for b, _, w, _, _ in hooks if w)
    recoverers = tuple(b.recover for b, _, _, r, _ in hooks if r)
    observers = tuple(b.observe for b, _, _, _, o in hooks if o)
    tee = (
        max((b.tee_request for b in chain), default=0),
        max((b.tee_response for b in chain), default=0),
    )
    wrapped = _wrapped(forward, wrappers) if wrappers else None
    return choosers, wrapped, observers, tee, recoverers


def _tune_gc() -> None:
    """Keep the cycle collector off the tail latency.

    With CPython's default thresholds a worker under load ran a collection every few
    hundred requests, walking every long-lived object. Freezing what startup built and
    collecting young objects every 100,000 allocations keeps p99 flat (bench/proxy_bench.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def listening_socket(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    """A bound, listening socket; SO_REUSEPORT lets several worker processes share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port and hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def route_of(table: RouteTable, name: str) -> Route | None:
    return table.routes.get(name)
