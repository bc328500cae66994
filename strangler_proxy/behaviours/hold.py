"""Hold: the proxy answers a route's writes itself, 503 with Retry-After, for a bounded moment,
while the data behind the route changes owner (extracted.seam's ownership flip).

Settings (`policy.options["hold"]`):
- `until`: the wall-clock time (Unix seconds) the hold ends by itself, so a hold whose owner
  died never outlives its bound;
- `methods`: the methods held (default the writes: POST, PUT, PATCH, DELETE); reads go on;
- `retry_after`: seconds the answer asks the client to wait (default 1).

A held request never reaches the upstream, so it never counts against it (breakers, rollback
and outlier detection ignore it), and its response carries `X-Figkit-Hold: 1`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from strangler_proxy.behaviours import Behaviour, Forward, check_methods, for_option
from strangler_proxy.errors import RouteError

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route

WRITES = ("POST", "PUT", "PATCH", "DELETE")
MAX_HOLD_S = 300


def validate(settings: Mapping[str, Any]) -> None:
    unknown = set(settings) - {"until", "methods", "retry_after"}
    if unknown:
        raise RouteError(f"unknown hold setting(s): {', '.join(sorted(unknown))}")
    until = settings.get("until")
    if isinstance(until, bool) or not isinstance(until, int | float):
        raise RouteError("'until' must be the Unix time the hold ends, a number")
    if until > time.time() + MAX_HOLD_S:
        raise RouteError(f"a hold may last at most {MAX_HOLD_S} s; 'until' is further away")
    retry = settings.get("retry_after", 1)
    if isinstance(retry, bool) or not isinstance(retry, int) or not 0 <= retry <= 60:
        raise RouteError(f"'retry_after' must be whole seconds from 0 to 60, not {retry!r}")
    if "methods" in settings:
        check_methods(settings["methods"])


class Hold(Behaviour):
    name: ClassVar[str] = "hold"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        validate(settings)
        self.until = float(settings["until"])
        self.methods = frozenset(m.encode() for m in settings.get("methods", WRITES))
        self.header = f"Retry-After: {int(settings.get('retry_after', 1))}".encode()

    async def wrap(self, exchange: Exchange, forward: Forward) -> int:
        if exchange.head.method not in self.methods or time.time() >= self.until:
            return await forward(exchange)
        exchange.injected = True  # the proxy's own answer: no upstream is blamed
        exchange.add_response_header(self.header)
        exchange.add_response_header(b"X-Figkit-Hold: 1")
        return exchange.conn.answer(
            exchange,
            "held",
            f"writes to route {exchange.route_name!r} are held for a moment while its data changes owner; retry",
            status=503,
        )


@for_option("hold", validate)
def _hold(route: Route, settings: Mapping[str, Any]) -> Hold:
    return Hold(settings)
