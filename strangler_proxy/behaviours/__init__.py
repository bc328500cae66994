"""Behaviours: what a route's policy makes the data path do beyond plain forwarding.

One file per behaviour, each a class with up to three hooks, as mitmproxy's addons are:

- `choose(exchange)`: pick the upstream (return its name) or answer locally (return a
  `Refusal`); None leaves the choice as it was. Runs after the pure plan step.
- `wrap(exchange, forward)`: run around the forwarding (retries, fallback, faults):
  `await forward(exchange)` does the real call and returns the status.
- `observe(exchange)`: see the finished exchange (status, timings, teed bodies).

Every hook is optional and synchronous except `wrap`. A route's `policy.mode` names the
behaviours it runs (`chain_for`); a route with no behaviour costs the data path nothing.
A behaviour that needs the request body (shadow traffic) sets `tee_request` to a cap in
bytes: the relay keeps a copy up to the cap beside the stream, never slowing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.plan import Refusal
    from strangler_proxy.routing import Route

Forward = Callable[["Exchange"], Awaitable[int]]


class Behaviour:
    """Base of every behaviour; a subclass overrides only the hooks it needs."""

    name: ClassVar[str] = ""
    tee_request: ClassVar[int] = 0  # bytes of the request body to keep for observe(); 0: none

    def choose(self, exchange: Exchange) -> str | Refusal | None:
        return None

    async def wrap(self, exchange: Exchange, forward: Forward) -> int:
        return await forward(exchange)

    def observe(self, exchange: Exchange) -> None:
        return None

    @classmethod
    def hooks(cls) -> tuple[bool, bool, bool]:
        """Which of choose, wrap and observe this behaviour overrides (the others cost nothing)."""
        return (
            cls.choose is not Behaviour.choose,
            cls.wrap is not Behaviour.wrap,
            cls.observe is not Behaviour.observe,
        )


def chain_for(route: Route | None) -> tuple[Behaviour, ...]:
    """The behaviours a route's policy asks for, in the order they run."""
    if route is None:
        return ()
    from strangler_proxy.behaviours.to_service import ToService

    if route.mode == "service":
        return (ToService(route.target),)
    return ()
