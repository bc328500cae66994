"""Upstreams: their base URLs, and one lean keep-alive connection pool per base URL.

Not a general-purpose HTTP client. A pooled `UpstreamConnection` is an asyncio Protocol
that writes the request head the plan built, and parses the response with httptools
(llhttp), handing each event to the exchange it serves (`ResponseSink`). Every wait has
a bound: the wait for a free connection (pool_timeout, answered 503), connecting
(connect_timeout, 504) and reading (read_timeout between two reads, 504).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections import deque
from typing import Protocol
from urllib.parse import urlsplit

import httptools

from strangler_proxy.config import UpstreamConfig
from strangler_proxy.guards import Breaker, RetryBudget

log = logging.getLogger("figkit.proxy")


class UpstreamUnavailable(Exception):
    """No connection could be had: `kind` is busy (pool), connect or timeout."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class ResponseSink(Protocol):
    """What an exchange offers its upstream connection (implemented in datapath.py)."""

    def response_head(
        self,
        conn: UpstreamConnection,
        status: int,
        reason: bytes,
        headers: list,
        length: int | None,
        chunked: bool,
    ) -> None: ...
    def response_body(self, data: bytes) -> None: ...
    def flush(self) -> None: ...
    def response_done(self, reusable: bool) -> None: ...
    def response_upgraded(self, rest: bytes) -> None: ...
    def upstream_failed(self, kind: str, detail: str) -> None: ...
    def upstream_pause_writing(self) -> None: ...
    def upstream_resume_writing(self) -> None: ...
    def spliced_data(self, data: bytes) -> None: ...


class _HeadOnly(Exception):
    """Raised from a parser callback: a HEAD response ends with its head."""


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to one upstream URL, serving one exchange at a time."""

    __slots__ = (
        "pool", "transport", "parser", "sink", "headers", "status", "reason", "in_trailers",
        "head_only", "closed", "deadline", "timer", "read_timeout", "loop", "used",
        "got_bytes", "spliced", "ended", "forgotten", "spare_parser", "timing", "reading_paused",
    )  # fmt: skip

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.spare_parser: httptools.HttpResponseParser | None = None
        self.sink: ResponseSink | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.reason = b""
        self.in_trailers = False
        self.head_only = False
        self.closed = False
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timing = False  # the read timeout runs (an exchange is in progress)
        self.reading_paused = False  # paused because the client's write buffer is full
        self.read_timeout = pool.read_timeout
        self.used = 0  # exchanges served; a reused connection may have been closed by the peer
        self.got_bytes = False
        self.spliced = False
        self.ended = False
        self.forgotten = False

    # --- asyncio ---------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.spliced:
            self.sink.spliced_data(data)  # type: ignore[union-attr]
            return
        if self.sink is None or self.parser is None:
            self.transport.close()  # type: ignore[union-attr]  # bytes nobody asked for: not reusable
            return
        self.got_bytes = True
        if self.timing:
            self.deadline = self.loop.time() + self.read_timeout
        sink = self.sink
        try:
            self.parser.feed_data(data)
            sink.flush()  # what this read produced, in one write to the client
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadOnly):
                self._finish(reusable=self.parser.should_keep_alive(), parser_done=False)
            else:  # a bug of ours in a callback: drop this exchange, never the worker
                log.error("response handling failed", exc_info=exc.__context__)
                self._fail("broken", "could not be relayed (figkit bug, see the log)")
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self.spliced = True
            self._stop_timer()
            self.sink.response_upgraded(data[offset:])
        except httptools.HttpParserError as exc:
            self._fail("broken", f"sent a malformed response ({exc})")

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        self.spare_parser = None  # the parser refers back to us: no cycle left for the collector
        self.pool.forget(self)
        sink, self.sink = self.sink, None
        if sink is None:
            return
        if self.spliced:
            sink.upstream_failed("closed", "")
            return
        if self.status and not self.ended and self.parser is not None and self._eof_delimited():
            self.ended = True
            sink.response_done(False)  # a response delimited by the end of the connection
            return
        if not self.ended:
            what = (
                "closed the connection"
                if exc is None
                else f"reset the connection ({type(exc).__name__})"
            )
            sink.upstream_failed("broken", what)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_resume_writing()

    # --- httptools callbacks ---------------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_trailers:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()  # type: ignore[union-attr]
        if 100 <= status < 200 and status != 101:
            self.headers = []  # 103 Early Hints and stray 100s are not passed on (as nginx)
            self.reason = b""
            return
        self.status = status
        self.in_trailers = True
        length: int | None = None
        chunked = False
        for name, value in self.headers:
            size = len(name)  # only names of the right length are lowered (every response)
            if size == 14 and name.lower() == b"content-length":
                length = int(value)
            elif size == 17 and name.lower() == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
        self.sink.response_head(self, status, self.reason, self.headers, length, chunked)  # type: ignore[union-attr]
        if self.head_only and status != 101:
            raise _HeadOnly  # llhttp would wait for the body a HEAD response only announces

    def on_body(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink.response_body(data)

    def on_message_complete(self) -> None:
        if self.status == 0 or self.status == 101:
            return  # the end of a 1xx interim response, or of the head before a protocol switch
        if self.spliced or self.parser is None:
            return
        self._finish(self.parser.should_keep_alive())

    # --- used by the exchange --------------------------------------------------------
    def send(self, sink: ResponseSink, head: bytes, head_only: bool) -> None:
        """Start an exchange: write the request head; the response goes to `sink`."""
        self.sink = sink
        # llhttp reads message after message on one keep-alive connection: the parser of
        # the last exchange is reused unless that exchange left it mid-message (HEAD).
        self.parser = self.spare_parser or httptools.HttpResponseParser(self)
        self.spare_parser = None
        self.headers = []
        self.status = 0
        self.reason = b""
        self.in_trailers = False
        self.head_only = head_only
        self.got_bytes = False
        self.ended = False
        self.used += 1
        self.transport.write(head)  # type: ignore[union-attr]
        self._start_timer()

    def write(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]
        if self.timing:
            self.deadline = self.loop.time() + self.read_timeout

    def writelines(self, parts: list[bytes]) -> None:
        self.transport.writelines(parts)  # type: ignore[union-attr]
        if self.timing:
            self.deadline = self.loop.time() + self.read_timeout

    def pause_reading(self) -> None:
        if not self.closed:
            self.reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def resume_reading(self) -> None:
        if not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def abort(self) -> None:
        """Drop the connection: the exchange ended early (client gone, client fault)."""
        self.sink = None
        self._stop_timer()
        if not self.closed:
            self.closed = True
            self.transport.abort()  # type: ignore[union-attr]
        self.pool.forget(self)

    # --- inside ----------------------------------------------------------------------
    def _eof_delimited(self) -> bool:
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and value.strip().lower().endswith(b"chunked")
            ):
                return False
        return True

    def _finish(self, reusable: bool, parser_done: bool = True) -> None:
        self.ended = True
        self.timing = False  # lazily: the pending timer finds nothing to do
        sink, self.sink = self.sink, None
        if reusable and parser_done:
            self.spare_parser = self.parser
        self.parser = None
        if sink is not None:
            sink.response_done(reusable)

    def _fail(self, kind: str, detail: str) -> None:
        sink, self.sink = self.sink, None
        self.abort()
        if sink is not None:
            sink.upstream_failed(kind, detail)

    def _start_timer(self) -> None:
        """One timer per connection, moved lazily: a request costs no timer call when one is pending."""
        self.deadline = self.loop.time() + self.read_timeout
        self.timing = True
        if self.timer is None:
            self.timer = self.loop.call_at(self.deadline, self._check_timer)

    def _stop_timer(self) -> None:
        self.timing = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _check_timer(self) -> None:
        if not self.timing:
            self.timer = None  # went off while the connection was idle: nothing to time
            return
        now = self.loop.time()
        if now < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._check_timer)
            return
        self.timer = None
        self._fail("timeout", f"sent nothing for {self.read_timeout:g} s (read_timeout)")


class Pool:
    """Keep-alive connections to one base URL, at most `max_connections` of them."""

    def __init__(self, upstream: Upstream, base: str, loop: asyncio.AbstractEventLoop) -> None:
        parts = urlsplit(base)
        self.upstream = upstream
        self.loop = loop
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = parts.scheme == "https"
        self.netloc = parts.netloc.encode()
        cfg = upstream.config
        self.read_timeout = cfg.read_timeout
        self.connect_timeout = cfg.connect_timeout
        self.pool_timeout = cfg.pool_timeout
        self.limit = cfg.max_connections
        self.idle: deque[UpstreamConnection] = deque()
        self.open = 0
        self.waiters: deque[asyncio.Future] = deque()
        self.failures = 0  # in a row, for outlier ejection
        self.ejected_until = 0.0
        self.ejections = 0

    def outcome(self, ok: bool) -> None:
        """Count a success or failure of this URL; enough failures in a row eject it for a while."""
        if ok:
            self.failures = 0
            return
        self.failures += 1
        outlier = self.upstream.config.outlier
        if outlier.failures and self.failures >= outlier.failures:
            others = [p for p in self.upstream.pools if p is not self and not p.ejected()]
            if others:  # never eject the last URL left in
                self.ejected_until = self.loop.time() + outlier.eject_seconds
                self.ejections += 1
                self.failures = 0

    def ejected(self) -> bool:
        return self.ejected_until > 0 and self.loop.time() < self.ejected_until

    async def acquire(self) -> UpstreamConnection:
        idle = self.idle
        while idle:
            conn = idle.pop()  # the most recently used is the most likely alive
            if not conn.closed:
                return conn
        if self.open >= self.limit:
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            try:
                handed = await asyncio.wait_for(waiter, self.pool_timeout)
            except TimeoutError:
                raise UpstreamUnavailable(
                    "busy",
                    f"all {self.limit} connections are busy for {self.pool_timeout:g} s (max_connections)",
                ) from None
            except BaseException:  # the exchange was cancelled: pass on what it was handed
                if waiter.done() and not waiter.cancelled():
                    lost = waiter.result()
                    if lost is None:
                        self._slot_freed()
                    else:
                        self.release(lost, True)
                raise
            finally:
                if waiter in self.waiters:
                    self.waiters.remove(waiter)
            if handed is not None:
                return handed
            return await self._connect(reserved=True)
        return await self._connect()

    async def _connect(self, reserved: bool = False) -> UpstreamConnection:
        if not reserved:
            self.open += 1
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port, ssl=self.ssl or None
                ),
                self.connect_timeout,
            )
        except TimeoutError:
            self._slot_freed()
            raise UpstreamUnavailable(
                "timeout", f"connecting took over {self.connect_timeout:g} s (connect_timeout)"
            ) from None
        except OSError as exc:
            self._slot_freed()
            raise UpstreamUnavailable(
                "connect", f"cannot connect ({exc.strerror or type(exc).__name__})"
            ) from None
        except BaseException:
            self._slot_freed()
            raise
        return conn

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        """Give a connection back after an exchange; one that is not reusable is closed."""
        if conn.closed:
            return
        if not reusable:
            conn.abort()
            return
        if conn.reading_paused:
            # The client fell behind in the exchange's last read, and its exchange ended
            # before it caught up: a paused connection in the pool would never read the
            # next exchange's response (found as a 30 s read_timeout after a 1 GiB download).
            conn.resume_reading()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        """A connection closed: free its slot (once per connection)."""
        if conn.forgotten:
            return
        conn.forgotten = True
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        self._slot_freed()

    def _slot_freed(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter, which connects anew
                return
        self.open -= 1

    def close(self) -> None:
        while self.idle:
            self.idle.pop().abort()


class Upstream:
    """A named upstream: its base URLs (taken in turn) and a pool for each."""

    def __init__(self, name: str, config: UpstreamConfig) -> None:
        self.name = name
        self.config = config
        self.bases = [url.rstrip("/") for url in config.urls]
        self.hosts = [urlsplit(url).netloc for url in config.urls]
        self._turn = itertools.cycle(range(len(self.bases)))
        self.pools: list[Pool] = []
        self.breaker = Breaker(config.breaker)
        self.budget = RetryBudget(config.retries)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pools = [Pool(self, base, loop) for base in self.bases]

    def pick(self, avoid: Pool | None = None) -> Pool:
        """The next base URL's pool, round robin, past ejected URLs (and `avoid`, for a retry)."""
        if len(self.pools) == 1:
            return self.pools[0]
        for _ in range(len(self.pools)):
            pool = self.pools[next(self._turn)]
            if pool is not avoid and not pool.ejected():
                return pool
        return self.pools[next(self._turn)]  # every URL is out: better try one than none

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
