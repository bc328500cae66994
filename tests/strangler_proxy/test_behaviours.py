"""The behaviour seam: a behaviour registered for a policy option chooses, wraps and observes."""

from __future__ import annotations

import hashlib
import json
import time
from typing import ClassVar

import httpx

from strangler_proxy.behaviours import Behaviour, chain_for, for_option
from strangler_proxy.routing import Route
from tests.strangler_proxy.test_proxying import cut_over

SEEN: list[dict] = []


class Tap(Behaviour):
    """Keeps the first bytes of both bodies, and can send the route elsewhere or add a header."""

    name: ClassVar[str] = "tap"
    tee_request: ClassVar[int] = 1000
    tee_response: ClassVar[int] = 64

    def __init__(self, settings) -> None:
        self.settings = settings

    def choose(self, exchange):
        return self.settings.get("to")

    async def wrap(self, exchange, forward):
        status = await forward(exchange)
        SEEN.append({"wrapped": status})
        return status

    def observe(self, exchange) -> None:
        SEEN.append(
            {
                "status": exchange.status,
                "request": b"".join(exchange.tee),
                "response": b"".join(exchange.tee_out),
                "upstream": exchange.target,
            }
        )


@for_option("tap")
def _tap(route: Route, settings) -> Tap:
    return Tap(settings)


def test_a_route_without_behaviours_runs_none():
    assert chain_for(Route("plain", "/x", "catalog")) == ()


def test_a_behaviour_tees_both_bodies_up_to_its_cap_without_holding_the_stream(proxy):
    SEEN.clear()
    cut_over(proxy, "tapped", "/upload", policy={"mode": "monolith", "options": {"tap": {}}})
    body = bytes(range(256)) * 40  # 10,240 bytes, more than the tee keeps
    echo = httpx.post(f"{proxy.url}/upload", content=body).json()
    assert echo["body_length"] == len(body)  # the upstream got all of it
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    # wrap's tail and observe run after the response went out (they never delay the
    # client): give the worker's thread a moment to get there.
    deadline = time.monotonic() + 2
    while len(SEEN) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    wrapped, observed = SEEN
    assert wrapped == {"wrapped": 200}
    assert observed["request"] == body[:1000]
    assert observed["response"] == json.dumps(echo).encode()[:64]
    assert observed["upstream"] == "monolith"


def test_a_behaviour_chooses_the_upstream(proxy):
    SEEN.clear()
    cut_over(
        proxy, "steered", "/echo", policy={"mode": "monolith", "options": {"tap": {"to": "orders"}}}
    )
    assert httpx.get(f"{proxy.url}/echo").headers["x-upstream"] == "orders"
