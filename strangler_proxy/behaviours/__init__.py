"""Behaviours: what a route's policy makes the data path do beyond plain forwarding.

One file per behaviour, each a class with up to three hooks, as mitmproxy's addons are:

- `choose(exchange)`: pick the upstream (return its name) or answer locally (return a
  `Refusal`); None leaves the choice as it was. Runs after the pure plan step.
- `wrap(exchange, forward)`: run around the forwarding (retries, fallback, faults):
  `await forward(exchange)` does the real call and returns the status.
- `recover(exchange)`: the upstream failed before any of its answer was sent
  (`exchange.failure` says how); return True to forward once more, to the upstream the
  hook set in `exchange.call.upstream` (fallback). Synchronous: it costs nothing until
  something fails.
- `observe(exchange)`: see the finished exchange (status, timings, teed bodies).
- `configure(config)`: read proxy.toml once per table load (not per request).

A behaviour registers itself: `@for_mode("shadow", "...")` for a mode, or
`@for_option("fault")` for one a route turns on with `policy.options["fault"]`.

Every hook is optional and synchronous except `wrap`. A route's `policy.mode` names the
behaviours it runs (`chain_for`); a route with no behaviour costs the data path nothing.
A behaviour that needs the request body (shadow traffic) sets `tee_request` to a cap in
bytes (and `tee_response` for the response body): the relay keeps a copy up to the cap
beside the stream, never holding the stream back. A behaviour that needs the bodies of
only some requests calls `exchange.start_tee(...)` from `choose` instead (shadow does:
only the requests it will mirror are kept).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from strangler_proxy import policy
from strangler_proxy.errors import RouteError

if TYPE_CHECKING:
    from strangler_proxy.config import ProxyConfig
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.plan import Refusal
    from strangler_proxy.routing import Route

Forward = Callable[["Exchange"], Awaitable[int]]
DEFAULT_METHODS = ("GET", "HEAD")  # what may be sent twice (fallback, shadow) unless a route says
_METHOD = re.compile(r"[A-Z]{1,20}")


def check_methods(methods: Any) -> None:
    """A behaviour's `methods` setting: a list of upper-case methods ([] for none)."""
    if not isinstance(methods, list | tuple) or not all(
        isinstance(m, str) and _METHOD.fullmatch(m) for m in methods
    ):
        raise RouteError(
            f'\'methods\' must be a list of upper-case methods such as ["GET", "HEAD"], or [] for none, not {methods!r}'
        )


# What `forward` returns when the upstream failed before any of its response was sent: the
# client has not been answered, so a wrap may still try elsewhere; `exchange.failure` says
# why, and the data path answers it if no behaviour does.
UNANSWERED = -2


class Behaviour:
    """Base of every behaviour; a subclass overrides only the hooks it needs."""

    name: ClassVar[str] = ""
    tee_request: int = 0  # bytes of the request body to keep for observe(); 0: none
    tee_response: int = 0  # bytes of the response body to keep likewise (and its headers)

    def configure(self, config: ProxyConfig) -> None:
        """Read what the behaviour needs from proxy.toml (called once per table load)."""
        return None

    def choose(self, exchange: Exchange) -> str | Refusal | None:
        return None

    async def wrap(self, exchange: Exchange, forward: Forward) -> int:
        return await forward(exchange)

    def recover(self, exchange: Exchange) -> bool:
        return False

    def observe(self, exchange: Exchange) -> None:
        return None

    @classmethod
    def hooks(cls) -> tuple[bool, bool, bool, bool]:
        """Which of choose, wrap, recover and observe this behaviour overrides (the others cost nothing)."""
        return (
            cls.choose is not Behaviour.choose,
            cls.wrap is not Behaviour.wrap,
            cls.recover is not Behaviour.recover,
            cls.observe is not Behaviour.observe,
        )


ModeFactory = Callable[["Route"], "Behaviour | None"]
OptionFactory = Callable[["Route", Mapping[str, Any]], "Behaviour"]
# mode -> the behaviour that carries it out; option key -> the behaviour its settings configure.
_BY_MODE: dict[str, ModeFactory] = {}
_BY_OPTION: dict[str, OptionFactory] = {}


def for_mode(
    mode: str, description: str, needs: str | None = None
) -> Callable[[ModeFactory], ModeFactory]:
    """Register what a route in `mode` runs (and make the mode one routes may take).

    `needs`: the option key whose settings a route in this mode must carry.
    """

    def register(factory: ModeFactory) -> ModeFactory:
        policy.register_mode(mode, description, needs)
        _BY_MODE[mode] = factory
        return factory

    return register


def for_option(
    name: str, validate: Callable[[Mapping[str, Any]], None] | None = None
) -> Callable[[OptionFactory], OptionFactory]:
    """Register a behaviour a route turns on by a key of its policy's options.

    `validate` checks its settings when a route is changed (raise RouteError with what to write).
    """

    def register(factory: OptionFactory) -> OptionFactory:
        policy.register_behaviour(name, validate)
        _BY_OPTION[name] = factory
        return factory

    return register


def chain_for(route: Route | None) -> tuple[Behaviour, ...]:
    """The behaviours a route's policy asks for, in the order they run: its mode's, then its options'."""
    if route is None:
        return ()
    load_builtin()
    chain: list[Behaviour] = []
    mode = _BY_MODE.get(route.policy.mode)
    if mode is not None:
        made = mode(route)
        if made is not None:
            chain.append(made)
    for name, settings in route.policy.options.items():
        factory = _BY_OPTION.get(name)
        if factory is not None:
            chain.append(factory(route, settings))
    return tuple(chain)


def load_builtin() -> None:
    """Import the built-in behaviours once: each registers its mode or option."""
    from strangler_proxy.behaviours import canary, fallback, fault, hold, shadow, to_service  # noqa: F401
