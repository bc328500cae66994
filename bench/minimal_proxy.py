"""The floor for the proxy benchmark: the least an ASGI proxy on aiohttp can do.

No routing, headers, logs or metrics: it forwards GET to FIGKIT_BENCH_ORIGIN and returns
the body. figkit's proxy is measured against it to tell its own cost from the stack's.
"""

from __future__ import annotations

import os

import aiohttp

ORIGIN = os.environ.get("FIGKIT_BENCH_ORIGIN", "http://127.0.0.1:8100")
_session: aiohttp.ClientSession | None = None
_DROP = {b"connection", b"transfer-encoding", b"keep-alive"}


async def app(scope, receive, send):
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
                )
            elif message["type"] == "lifespan.shutdown":
                await _session.close()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await receive()
    async with _session.get(ORIGIN + scope["path"]) as resp:
        body = await resp.read()
        headers = [(k.lower(), v) for k, v in resp.raw_headers if k.lower() not in _DROP]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
