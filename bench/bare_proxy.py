"""A REFERENCE, not figkit: the least a Python reverse proxy can do per request.

    .venv/bin/python bench/bare_proxy.py LISTEN_PORT UPSTREAM_PORT

An asyncio Protocol on uvloop, httptools (llhttp) parsing both sides, a keep-alive pool
of upstream connections; no routing, no header rules, no ids, logs, metrics, timeouts or
request bodies, Content-Length responses only. bench/proxy_bench.py runs it beside figkit
as the ceiling for Python on this machine: what figkit costs above it is figkit's own work.
"""

from __future__ import annotations

import asyncio
import sys

import httptools
import uvloop


class Upstream(asyncio.Protocol):
    """One pooled keep-alive connection; parses one response at a time for one client."""

    def __init__(self, pool: list[Upstream]) -> None:
        self.pool, self.client, self.transport = pool, None, None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() != b"connection":
            self.headers.append(name + b": " + value)

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        head = b"HTTP/1.1 %d OK\r\n" % status + b"\r\n".join(self.headers) + b"\r\n\r\n"
        self.client.transport.write(head)
        self.headers = []

    def on_body(self, body: bytes) -> None:
        self.client.transport.write(body)

    def on_message_complete(self) -> None:
        self.client = None
        self.pool.append(self)

    def connection_lost(self, exc) -> None:
        if self in self.pool:
            self.pool.remove(self)


class Client(asyncio.Protocol):
    def __init__(self, loop, pool: list[Upstream], port: int) -> None:
        self.loop, self.pool, self.port = loop, pool, port
        self.parser = httptools.HttpRequestParser(self)
        self.headers: list[bytes] = []
        self.url = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append(name + b": " + value)

    def on_message_complete(self) -> None:
        head = b"%s %s HTTP/1.1\r\n" % (self.parser.get_method(), self.url)
        head += b"\r\n".join(self.headers) + b"\r\n\r\n"
        self.headers, self.url = [], b""
        if self.pool:
            self._send(self.pool.pop(), head)
        else:
            self.loop.create_task(self._connect(head))

    async def _connect(self, head: bytes) -> None:
        _, up = await self.loop.create_connection(
            lambda: Upstream(self.pool), "127.0.0.1", self.port
        )
        self._send(up, head)

    def _send(self, up: Upstream, head: bytes) -> None:
        up.client = self
        up.transport.write(head)


async def main(listen: int, upstream: int) -> None:
    loop = asyncio.get_running_loop()
    pool: list[Upstream] = []
    server = await loop.create_server(
        lambda: Client(loop, pool, upstream), "127.0.0.1", listen, backlog=4096
    )
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
