"""A small ASGI upstream written for the proxy's tests: it says what it received.

/echo          JSON of method, path, raw_path, query, headers, body length and sha256
/bytes?n=N     streams N bytes (chunked), in 64 KiB pieces, without holding them
/sized?n=N     N bytes with a Content-Length
/upload        reads the body as it streams and answers its length and sha256
/redirect      302 to /echo (the proxy must pass it back, not follow it)
/cookies       two Set-Cookie headers
/slow?s=S      answers after S seconds
/hop           answers with hop-by-hop headers that must not reach the client
/status?code=N answers status N with no body (204, 304...)
/sse?n=N&gap=S N server-sent events, S seconds apart
/ws            a WebSocket that echoes every message
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from urllib.parse import parse_qs


async def lifespan(receive, send) -> None:
    """Answer an ASGI server's startup and shutdown (every test app has nothing to set up)."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


def make_app(name: str):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        path = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                await send(
                    {
                        "type": "websocket.send",
                        "text": message.get("text") or "",
                        "bytes": message.get("bytes"),
                    }
                )
        if path == "/sse":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"x-upstream", name.encode()), (b"content-type", b"text/event-stream")]})  # fmt: skip
            for i in range(int(query["n"][0])):
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"data: {i}\n\n".encode(),
                        "more_body": True,
                    }
                )
                await asyncio.sleep(float(query["gap"][0]))
            await send({"type": "http.response.body", "body": b""})
            return
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            if not message.get("more_body"):
                break

        async def reply(status, body=b"", headers=()):
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"x-upstream", name.encode()), *headers],
                }
            )
            await send({"type": "http.response.body", "body": body})

        if path == "/bytes" or path == "/sized":
            n = int(query["n"][0])
            headers = [(b"content-type", b"application/octet-stream")]
            if path == "/sized":
                headers.append((b"content-length", str(n).encode()))
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"x-upstream", name.encode()), *headers],
                }
            )
            piece = b"x" * 65536
            gone = asyncio.Event()

            async def watch():
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()

            watcher = asyncio.ensure_future(watch())
            while n > 0 and not gone.is_set():  # a reader that left stops the stream
                chunk = piece[: min(n, len(piece))]
                n -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": n > 0})
                await asyncio.sleep(0)  # uvicorn's send() may return at once: let the watcher run
            watcher.cancel()
            if int(query["n"][0]) == 0:
                await send({"type": "http.response.body", "body": b""})
            return
        if path == "/status":
            code = int(query["code"][0])
            extra = [(b"etag", b'"v1"')] if code == 304 else []
            return await reply(code, b"", extra)
        if path == "/redirect":
            return await reply(302, b"", [(b"location", b"/echo")])
        if path == "/cookies":
            return await reply(
                200, b"ok", [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
            )
        if path == "/slow":
            await asyncio.sleep(float(query["s"][0]))
            return await reply(200, b"late")
        if path == "/hop":
            return await reply(
                200,
                b"hop",
                [
                    (b"connection", b"x-private"),
                    (b"x-private", b"1"),
                    (b"keep-alive", b"timeout=5"),
                ],
            )
        body = {
            "upstream": name,
            "method": scope["method"],
            "path": path,
            "raw_path": scope.get("raw_path", b"").decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_length": size,
            "body_sha256": digest.hexdigest(),
        }
        await reply(200, json.dumps(body).encode(), [(b"content-type", b"application/json")])

    return app
