"""An upstream that records exactly what bytes a proxy sent it, for the differential tests.

A raw asyncio TCP server (no HTTP framework, which would tidy the request before we saw it):
httptools only frames each request (Content-Length, chunked, keep-alive); the method,
target, header names and values, body and trailers are kept as the bytes that arrived, in
order, duplicates and all. It answers by a small script chosen from the path, so what the
client gets through each proxy can be compared too:

    /r/echo          200 with the request body (its length and sha256 when it is big; the
                     target when there is none)
    /r/status/NNN    that status (204 and 304 without a body)
    /r/chunked       a chunked response of three chunks with a trailer
    /r/hop           a response carrying hop-by-hop headers the proxy must remove
    /r/expect-100    sends its own `100 Continue` when the request asks for one
    /r/big?n=N       N bytes, streamed with backpressure
    /r/close-delimited  a body with neither Content-Length nor chunked: it ends at the close
    anything else    200 "ok" (the upstream never sends 100 Continue: it waits for the body)

HEAD is answered with the headers GET would get and no body. Every response carries
`X-Recorded: N` (the request's index), so the tests can tell upstream answers from the
proxy's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from dataclasses import dataclass, field

import httptools

BIG_BODY = 64 * 1024  # bodies above this are kept as length and sha256 only
_PATTERN = bytes(range(256)) * 256  # 64 KiB of every byte value, for /r/big


@dataclass
class Recorded:
    """One request as the upstream received it."""

    index: int
    connection: int
    method: bytes = b""
    target: bytes = b""
    http_version: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body_length: int = 0
    body_prefix: bytes = b""  # the whole body when it is at most BIG_BODY bytes
    complete: bool = False
    error: str = ""  # the parser refused the bytes (what arrived is then in raw_head)
    raw_head: bytes = b""
    _sha: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    @property
    def body_sha256(self) -> str:
        return self._sha.hexdigest()

    def body(self) -> bytes | str:
        """The body, or 'N bytes sha256=...' when it is too big to keep."""
        if self.body_length <= BIG_BODY:
            return self.body_prefix
        return f"{self.body_length} bytes sha256={self.body_sha256}"

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class _Connection:
    """Feeds one connection's bytes to httptools and keeps each message it frames."""

    def __init__(self, upstream: RecordingUpstream, number: int) -> None:
        self.upstream = upstream
        self.number = number
        self.parser = httptools.HttpRequestParser(self)
        self.current: Recorded | None = None
        self.finished: list[Recorded] = []
        self.wants_continue = False
        self.in_trailers = False

    def on_message_begin(self) -> None:
        self.current = self.upstream._new_record(self.number)
        self.in_trailers = False

    def on_url(self, url: bytes) -> None:
        assert self.current is not None
        self.current.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.current is not None
        (self.current.trailers if self.in_trailers else self.current.headers).append((name, value))

    def on_headers_complete(self) -> None:
        assert self.current is not None
        self.current.method = self.parser.get_method()
        self.current.http_version = self.parser.get_http_version()
        self.in_trailers = True
        expect = self.current.header(b"expect")
        if expect is not None and expect.lower() == b"100-continue":
            self.wants_continue = True

    def on_body(self, body: bytes) -> None:
        assert self.current is not None
        record = self.current
        if record.body_length < BIG_BODY:
            record.body_prefix += body[: BIG_BODY - record.body_length + 1]
        record.body_length += len(body)
        record._sha.update(body)

    def on_message_complete(self) -> None:
        assert self.current is not None
        self.current.complete = True
        self.finished.append(self.current)
        self.current = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        while True:
            data = await asyncio.wait_for(reader.read(256 * 1024), self.upstream.idle_timeout)
            if not data:
                return
            if self.current is None and not self.finished:
                head = data[:8192]
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                pass
            except httptools.HttpParserError as exc:
                record = self.current or self.upstream._new_record(self.number)
                record.error, record.raw_head = str(exc) or type(exc).__name__, head
                writer.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            if self.wants_continue and self.current is not None:
                self.wants_continue = False
                if self.current.target.startswith(b"/r/expect-100"):
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            while self.finished:
                record = self.finished.pop(0)
                self.wants_continue = False
                if not await respond(record, writer) or not self.parser.should_keep_alive():
                    return


async def respond(record: Recorded, writer: asyncio.StreamWriter) -> bool:
    """Answer one request by the script its path names; False when the connection must close."""
    path, _, query = record.target.partition(b"?")
    head_only = record.method == b"HEAD"
    status, headers, body = 200, [(b"Content-Type", b"text/plain")], b"ok\n"
    chunks: list[bytes] | None = None
    big = 0
    close_delimited = path.startswith(b"/r/close-delimited")
    if path.startswith(b"/r/echo"):
        # the body, or the target when there is none: pipelined answers show whose they are
        echoed = record.body()
        body = echoed.encode() if isinstance(echoed, str) else echoed or record.target
    elif m := re.match(rb"/r/status/(\d{3})", path):
        status = int(m.group(1))
        body = b"" if status in (204, 304) else b"status\n"
        if status == 304:
            headers = [(b"ETag", b'"v1"'), (b"Cache-Control", b"max-age=60")]
        elif status == 204:
            headers = []
    elif path.startswith(b"/r/chunked"):
        chunks = [b"first,", b"second,", b"third\n"]
    elif path.startswith(b"/r/hop"):
        headers += [
            (b"Connection", b"x-resp-hop"),
            (b"X-Resp-Hop", b"must go"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Proxy-Connection", b"keep-alive"),
            (b"Upgrade", b"h2c"),
            (b"X-Resp-Kept", b"stays"),
            (b"Set-Cookie", b"a=1; Path=/"),
            (b"Set-Cookie", b"b=2; Path=/"),
        ]
    elif path.startswith(b"/r/big"):
        m = re.search(rb"(?:^|&)n=(\d+)", query)
        big = int(m.group(1)) if m else 0
    reason = _REASONS.get(status, b"Other")
    lines = [b"HTTP/1.1 %d %s" % (status, reason), b"X-Recorded: %d" % record.index]
    lines += [k + b": " + v for k, v in headers]
    if close_delimited:
        lines.append(b"Connection: close")
    elif chunks is not None:
        lines += [b"Transfer-Encoding: chunked", b"Trailer: X-Checksum"]
    elif big:
        lines.append(b"Content-Length: %d" % big)
    elif status not in (204, 304) or body:
        lines.append(b"Content-Length: %d" % len(body))
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
    if head_only or status in (204, 304):
        pass
    elif chunks is not None:
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        writer.write(b"0\r\nX-Checksum: 42\r\n\r\n")
    elif big:
        left = big
        while left:
            piece = _PATTERN[: min(left, len(_PATTERN))]
            writer.write(piece)
            left -= len(piece)
            await writer.drain()
    else:
        writer.write(body)
    await writer.drain()
    return not close_delimited


_REASONS = {200: b"OK", 204: b"No Content", 304: b"Not Modified", 404: b"Not Found"}


class RecordingUpstream:
    """The recording server, on 127.0.0.1 in a thread with its own event loop."""

    def __init__(self, idle_timeout: float = 30.0) -> None:
        self.idle_timeout = idle_timeout
        self.records: list[Recorded] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="recording-upstream"
        )
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> RecordingUpstream:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what arrived ----------------------------------------------------------------
    def take(self) -> list[Recorded]:
        """The requests received since the last take(), oldest first."""
        with self._lock:
            taken, self.records = self.records, []
        return taken

    def _new_record(self, connection: int) -> Recorded:
        with self._lock:
            record = Recorded(index=len(self.records), connection=connection)
            self.records.append(record)
        return record

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
            number = self.connections
        try:
            await _Connection(self, number).serve(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
