"""Shadow traffic: requests the monolith answered, sent again to the service and compared.

Each worker has one `Mirror`. The shadow behaviour hands it a finished exchange (the
request, and the monolith's answer that the client already has); `submit` never waits:
the job goes into a bounded queue, or is dropped and counted when the queue is full.
`concurrency` senders take jobs off the queue and call the service through the worker's
own keep-alive pools (the data path's HTTP/1.1 client, about 30 µs a call where httpx
took several hundred, measured by bench/behaviours_bench.py), bypassing the breakers:
shadow traffic never judges an upstream the clients depend on. For a sample of jobs the
monolith is called a second time: the fields in which the monolith disagrees with itself are noise (Diffy's
method), ignored from then on and shared with every worker through the store.

The counts, the new noise and the samples of mismatches are added to the store once a
second (`flush`), so `figkit routes diff` and the gates see every worker's traffic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strangler_proxy import metrics
from strangler_proxy.diffing import Answer, Rules, differences, widened
from strangler_proxy.upstreams import UpstreamUnavailable

if TYPE_CHECKING:
    from strangler_proxy.config import ProxyConfig, ShadowConfig
    from strangler_proxy.upstreams import Upstream, UpstreamConnection

log = logging.getLogger("figkit.proxy.shadow")

SHADOW_HEADER = "X-Figkit-Shadow"  # on every mirrored request: "service" or "monolith"
_NOISE_LIMIT = 64  # differences read from one pair of monolith answers


@dataclass
class RouteSettings:
    """A shadow route's comparison settings, compiled once per table load."""

    service: str
    ignore: Rules
    redact: Rules
    headers: tuple[str, ...]
    noise_rate: float


@dataclass
class Job:
    route: str
    settings: RouteSettings
    method: str
    target: str  # path and query as sent upstream
    headers: list[tuple[bytes, bytes]]
    body: bytes
    monolith: Answer
    request_id: str


@dataclass
class _Book:
    """One route's counts since the last flush, and what this worker knows of its noise."""

    counts: dict[str, int] = field(default_factory=dict)
    noise: set[str] = field(default_factory=set)
    new_noise: set[str] = field(default_factory=set)
    rules: Rules | None = None  # the noise as rules, rebuilt when it grows
    compared: int = 0  # in this worker since it started (for the warm-up)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class _Collect:
    """A ResponseSink that keeps a mirrored response (up to a cap) instead of relaying it."""

    __slots__ = ("future", "pool", "up", "status", "headers", "body", "size", "cap")

    def __init__(self, future: asyncio.Future, pool: Any, up: UpstreamConnection, cap: int) -> None:
        self.future, self.pool, self.cap = future, pool, cap
        self.up: UpstreamConnection | None = up
        self.status = 0
        self.headers: list = []
        self.body: list[bytes] = []
        self.size = 0

    def response_head(self, conn, status, reason, headers, length, chunked) -> None:
        self.status, self.headers = status, headers

    def response_body(self, data: bytes) -> None:
        self.size += len(data)
        if self.size <= self.cap:
            self.body.append(data)

    def flush(self) -> None:
        return None

    def response_done(self, reusable: bool) -> None:
        up, self.up = self.up, None
        if up is not None:
            self.pool.release(up, reusable)
        self._end("done")

    def response_upgraded(self, rest: bytes) -> None:
        self.upstream_failed("upgraded", "")

    def upstream_failed(self, kind: str, detail: str) -> None:
        up, self.up = self.up, None
        if up is not None:
            up.abort()
        self._end("failed")

    def upstream_pause_writing(self) -> None:
        return None

    def upstream_resume_writing(self) -> None:
        return None

    def spliced_data(self, data: bytes) -> None:
        return None

    def abort(self) -> None:
        up, self.up = self.up, None
        if up is not None:
            up.abort()

    def _end(self, how: str) -> None:
        if not self.future.done():
            self.future.set_result(how)


class Mirror:
    def __init__(self, config: ProxyConfig, upstreams: dict[str, Upstream]) -> None:
        self.config: ShadowConfig = config.proxy.shadow
        self.upstreams = upstreams
        self.default = config.proxy.default_upstream
        self.books: dict[str, _Book] = {}
        self.samples: list[dict] = []
        self.queue: asyncio.Queue[Job] | None = None
        self.senders: list[asyncio.Task] = []
        self._reported: set[str] = set()  # kinds of comparison failure already logged
        self._second = 0  # the second `_sent` counts in (for max_per_second)
        self._sent = 0

    # --- the data path's side: never waits ---------------------------------------------
    def book(self, route: str) -> _Book:
        book = self.books.get(route)
        if book is None:
            book = self.books[route] = _Book()
        return book

    def count(self, route: str, what: str) -> None:
        self.book(route).add(what)

    def full(self) -> bool:
        """The queue has no room: the next mirror would be dropped (checked before building it)."""
        return self.queue is not None and self.queue.full()

    def over_rate(self) -> bool:
        """This second's mirrors are used up (`max_per_second`): the next one is not made."""
        now = int(time.monotonic())
        if now != self._second:
            self._second, self._sent = now, 0
        if self._sent >= self.config.max_per_second:
            return True
        self._sent += 1
        return False

    def submit(self, job: Job) -> None:
        if self.queue is None:
            self._start()
        try:
            self.queue.put_nowait(job)  # type: ignore[union-attr]
        except asyncio.QueueFull:
            self.book(job.route).add("dropped")

    def _start(self) -> None:
        cfg = self.config
        self.queue = asyncio.Queue(cfg.queue)
        self.senders = [
            asyncio.get_running_loop().create_task(self._send_loop())
            for _ in range(cfg.concurrency)
        ]

    # --- the senders -------------------------------------------------------------------
    async def _send_loop(self) -> None:
        queue = self.queue
        assert queue is not None
        while True:
            job = await queue.get()
            try:
                await self._compare(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop mirroring; say it once per kind
                kind = type(exc).__name__
                if kind not in self._reported:
                    self._reported.add(kind)
                    log.exception(
                        "shadow comparison of %s %s failed (%s; said once per kind): %s",
                        job.method, job.target, kind, exc,
                    )  # fmt: skip
            finally:
                queue.task_done()

    async def _compare(self, job: Job) -> None:
        book = self.book(job.route)
        settings = job.settings
        learn = settings.noise_rate > 0 and (
            book.compared < self.config.warmup or random.random() < settings.noise_rate
        )
        calls = [self._call(settings.service, job, "service")]
        if learn:
            calls.append(self._call(self.default, job, "monolith"))
        answers = await asyncio.gather(*calls)
        service = answers[0]
        if learn and isinstance(answers[1], Answer):
            found = differences(job.monolith, answers[1], settings.ignore, _NOISE_LIMIT)
            fresh = {widened(d.path) for d in found} - book.noise
            if fresh:
                book.noise |= fresh
                book.new_noise |= fresh
                book.rules = None
                log.info("route %r: learned noise %s", job.route, ", ".join(sorted(fresh)))
        if service == "too_big":
            book.add("skipped")
            return
        if not isinstance(service, Answer):
            book.add("shadow_errors")
            return
        if service.status >= 500:
            book.add("shadow_errors")
        if book.rules is None:
            book.rules = Rules.of(sorted(book.noise))
        found = differences(
            job.monolith, service, settings.ignore | book.rules, 1, redact=settings.redact
        )
        book.compared += 1
        book.add("compared")
        if found:
            book.add("mismatched")
            first = found[0].shown()
            if len(self.samples) < self.config.samples:
                self.samples.append(
                    {
                        "route": job.route,
                        "at": time.time(),
                        "request_id": job.request_id,
                        "method": job.method,
                        "target": job.target,
                        "path": first.path,
                        "monolith": first.a,
                        "service": first.b,
                    }
                )

    async def _call(self, name: str, job: Job, role: str) -> Answer | str:
        """One mirrored call; an Answer, or why there is none ("failed", "too_big")."""
        upstream = self.upstreams.get(name)
        if upstream is None:
            return "failed"
        pool = upstream.pick()
        try:
            up = await pool.acquire()
        except UpstreamUnavailable:
            return "failed"
        host = pool.netloc if upstream.config.host == "upstream" else None
        lines = [job.method.encode() + b" " + job.target.encode("latin-1") + b" HTTP/1.1"]
        for header, value in job.headers:
            lines.append(
                header + b": " + (host if host is not None and header.lower() == b"host" else value)
            )
        lines.append(SHADOW_HEADER.encode() + b": " + role.encode())
        if job.body:
            lines.append(b"Content-Length: %d" % len(job.body))
        lines.append(b"\r\n")
        future = asyncio.get_running_loop().create_future()
        sink = _Collect(future, pool, up, self.config.max_body)
        up.send(sink, b"\r\n".join(lines), job.method == "HEAD")
        if job.body:
            up.write(job.body)
        try:
            how = await asyncio.wait_for(future, self.config.timeout)
        except TimeoutError:
            sink.abort()
            return "failed"
        except asyncio.CancelledError:
            sink.abort()
            raise
        if how != "done":
            return "failed"
        if sink.size > self.config.max_body:
            return "too_big"
        return answer_of(
            sink.status,
            sink.headers,
            b"".join(sink.body),
            job.settings.headers,
            self.config.max_body,
        )

    # --- once a second -----------------------------------------------------------------
    def take(self) -> tuple[dict[str, dict[str, int]], dict[str, set[str]], list[dict]]:
        """The counts, new noise and samples since the last call (to add to the store)."""
        counts = {route: b.counts for route, b in self.books.items() if b.counts}
        noise = {route: b.new_noise for route, b in self.books.items() if b.new_noise}
        for book in self.books.values():
            book.counts = {}
            book.new_noise = set()
        samples, self.samples = self.samples, []
        for route, c in counts.items():
            for outcome, n in c.items():
                metrics.SHADOW.labels(route, outcome).inc(n)
        return counts, noise, samples

    def learned(self, noise: dict[str, set[str]]) -> None:
        """Noise other workers learned (read back from the store)."""
        for route, paths in noise.items():
            book = self.book(route)
            if not paths <= book.noise:
                book.noise |= paths
                book.rules = None

    async def close(self) -> None:
        for task in self.senders:
            task.cancel()
        if self.senders:
            await asyncio.gather(*self.senders, return_exceptions=True)


def answer_of(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    chosen: tuple[str, ...],
    max_body: int,
) -> Answer:
    """An Answer from a response's parts; a gzip or deflate body is decoded first, to at most
    `max_body` bytes (a compressed bomb stops there)."""
    content_type = encoding = ""
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        lower, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if lower == "content-type":
            content_type = value
        elif lower == "content-encoding":
            encoding = value.strip().lower()
        if lower in chosen:
            kept[lower] = value if lower not in kept else kept[lower] + ", " + value
    if encoding in ("gzip", "deflate", "x-gzip"):
        try:
            inflate = zlib.decompressobj(wbits=47)  # gzip or zlib, by the header
            body = inflate.decompress(body, max_body)
        except zlib.error:
            pass
    return Answer(status, kept, body, content_type)


def job_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """The planned upstream headers, minus what httpx sets itself."""
    return [(n, v) for n, v in headers if n.lower() not in (b"content-length",)]
