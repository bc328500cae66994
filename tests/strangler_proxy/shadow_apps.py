"""A product API written twice for the shadow tests: the monolith's and a service's copy.

GET /api/products/<id>  {"id", "price", "name", "generated_at"}: `generated_at` differs on
                        every call (noise); the service's price is wrong for one id in five
                        until POST /fix (and again after POST /break)
POST /api/products/<id> echoes the body's length (a write: never mirrored by default)
GET /sse                three server-sent events
anything                the monolith answers 200 {"ok": true}

Every request is counted by method and path, with its X-Figkit-Shadow header, so a test can
see what was mirrored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.strangler_proxy.upstream_app import lifespan


@dataclass
class ProductApp:
    name: str
    wrong_price_every: int = 0  # the service's bug: every Nth id gets a wrong price
    delay: float = 0.0  # seconds before answering
    wrong_email: bool = False  # a second bug, in a field that is personal data
    fail_with: int = 0  # answer every product request with this status (a broken deploy)
    seen: Counter = field(default_factory=Counter)
    shadow_headers: list = field(default_factory=list)
    bodies: list = field(default_factory=list)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        method, path = scope["method"], scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen[(method, path)] += 1
        self.shadow_headers.append(headers.get("x-figkit-shadow"))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.delay:
            await asyncio.sleep(self.delay)
        if path == "/fix":
            self.wrong_price_every = 0
            return await _json(send, 200, {"fixed": True})
        if path == "/break":
            self.wrong_price_every = 5
            return await _json(send, 200, {"broken": True})
        if path == "/sse":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
            for i in range(3):
                await send({"type": "http.response.body", "body": b"data: %d\n\n" % i,
                            "more_body": True})  # fmt: skip
                await asyncio.sleep(0.05)
            return await send({"type": "http.response.body", "body": b""})
        if path.startswith("/api/products/") and self.fail_with:
            return await _json(send, self.fail_with, {"error": "broken deploy"})
        if path.startswith("/api/products/"):
            pid = int(path.rstrip("/").rsplit("/", 1)[1])
            if method == "POST":
                self.bodies.append(body)
                return await _json(send, 201, {"id": pid, "received": len(body)})
            price = pid * 10
            if self.wrong_price_every and pid % self.wrong_price_every == 0:
                price += 1
            return await _json(
                send,
                200,
                {
                    "id": pid,
                    "price": price,
                    "name": f"product {pid}",
                    "email": f"{'other' if self.wrong_email else 'owner'}{pid}@example.com",
                    "generated_at": time.time_ns(),
                },
            )
        return await _json(send, 200, {"ok": True})


async def _json(send, status: int, data: dict) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
