"""Fault injection for chaos tests: added latency, or an abort, for a share of a route's requests.

Settings (`policy.options["fault"]`, set with `figkit routes fault NAME ...`):
- `delay_ms`: latency added before the request is forwarded;
- `abort`: a status (400-599) the proxy answers itself instead of forwarding;
- `percent`: the share of eligible requests hit (default 100);
- `header`: when set, only requests that carry this header are eligible, so a chaos test
  can aim at its own traffic and leave users alone.

A hit request carries `X-Figkit-Fault: delay` or `abort` on its response, and the access
log and metrics see it as any other (the delay is in its duration). An abort never
reaches the upstream, so it never counts against it. Like every route change, turning a
fault on or off is one audited version of the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from random import random
from typing import TYPE_CHECKING, Any, ClassVar

from strangler_proxy.behaviours import Behaviour, Forward, for_option
from strangler_proxy.errors import RouteError
from strangler_proxy.routing import HEADER_NAME_RE

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route

MAX_DELAY_MS = 60_000


def _number(settings: Mapping[str, Any], key: str) -> float | None:
    value = settings.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RouteError(f"{key!r} must be a number, not {value!r}")
    return float(value)


def validate(settings: Mapping[str, Any]) -> None:
    unknown = set(settings) - {"delay_ms", "abort", "percent", "header"}
    if unknown:
        raise RouteError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    delay, abort = _number(settings, "delay_ms"), _number(settings, "abort")
    percent = _number(settings, "percent")
    if delay is None and abort is None:
        raise RouteError("give 'delay_ms', 'abort' or both")
    if delay is not None and not 0 <= delay <= MAX_DELAY_MS:
        raise RouteError(f"'delay_ms' must be from 0 to {MAX_DELAY_MS}, not {delay:g}")
    if abort is not None and (abort != int(abort) or not 400 <= abort <= 599):
        raise RouteError(f"'abort' must be an error status from 400 to 599, not {abort:g}")
    if percent is not None and not 0 <= percent <= 100:
        raise RouteError(f"'percent' must be from 0 to 100, not {percent:g}")
    header = settings.get("header")
    if header is not None and (not isinstance(header, str) or not HEADER_NAME_RE.fullmatch(header)):
        raise RouteError(f"'header' must be a header name, not {header!r}")


class Fault(Behaviour):
    name: ClassVar[str] = "fault"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        validate(settings)
        self.delay = float(settings.get("delay_ms") or 0) / 1000
        self.abort = int(settings["abort"]) if settings.get("abort") is not None else 0
        self.share = float(settings.get("percent", 100)) / 100
        header = settings.get("header")
        self.header = header.lower().encode() if header else None

    def _hit(self, exchange: Exchange) -> bool:
        if self.header is not None:
            wanted = self.header
            if not any(name.lower() == wanted for name, _ in exchange.head.headers):
                return False
        return self.share >= 1 or random() < self.share

    async def wrap(self, exchange: Exchange, forward: Forward) -> int:
        if not self._hit(exchange):
            return await forward(exchange)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.abort:
            exchange.injected = True  # not the upstream's failure: breakers and rollback ignore it
            exchange.add_response_header(b"X-Figkit-Fault: abort")
            return exchange.conn.answer(
                exchange,
                "fault_injected",
                f"fault injected on route {exchange.route_name!r} (figkit routes fault)",
                status=self.abort,
            )
        exchange.add_response_header(b"X-Figkit-Fault: delay")
        return await forward(exchange)


@for_option("fault", validate)
def _fault(route: Route, settings: Mapping[str, Any]) -> Fault:
    return Fault(settings)
