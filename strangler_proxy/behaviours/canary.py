"""The `canary` mode: a sticky share of users goes to the route's target, the rest to the monolith.

A user is whatever the route's `sticky` key names: a header (`header:X-User-Id`) or a
cookie (`cookie:sessionid`). The key is hashed, with the target's name as salt, to a
point in [0, 1); the user is on the service when that point is below `percent` / 100.
Raising the percentage only moves the threshold, so every user who was on the service
stays there (consistent hashing, not a re-roll), and the same user lands on the same
side on every route that moves to the same service. A request without the key gets the
proxy's own cookie (`figkit_canary`), set on its response, and is hashed by that from
then on.

Settings (`policy.options["canary"]`): `percent` (0-100, may be fractional) and
`sticky` (`cookie:NAME` or `header:NAME`, default `cookie:figkit_canary`).
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b
from random import getrandbits
from typing import TYPE_CHECKING, Any, ClassVar

from strangler_proxy import policy
from strangler_proxy.behaviours import for_mode
from strangler_proxy.behaviours.fallback import FallsBack
from strangler_proxy.errors import RouteError
from strangler_proxy.routing import HEADER_NAME_RE

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route

COOKIE = "figkit_canary"
COOKIE_MAX_AGE = 30 * 24 * 3600
_SCALE = float(1 << 64)


def validate(settings: Mapping[str, Any]) -> None:
    percent = settings.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise RouteError(f"'percent' must be a number from 0 to 100, not {percent!r}")
    sticky = settings.get("sticky", f"cookie:{COOKIE}")
    kind, _, name = sticky.partition(":") if isinstance(sticky, str) else ("", "", "")
    if kind not in ("cookie", "header") or not HEADER_NAME_RE.fullmatch(name):
        raise RouteError(f"'sticky' must be cookie:NAME or header:NAME, not {sticky!r}")
    unknown = set(settings) - {"percent", "sticky"}
    if unknown:
        raise RouteError(f"unknown canary setting(s): {', '.join(sorted(unknown))}")


policy.register_behaviour("canary", validate)


def bucket(salt: bytes, key: bytes) -> float:
    """Where a user's key falls in [0, 1): the same key and salt always give the same point."""
    digest = blake2b(key, digest_size=8, key=salt[:64]).digest()
    return int.from_bytes(digest, "big") / _SCALE


class Points:
    """bucket() for one salt, with the points of recent users remembered.

    A keyed BLAKE2b state is copied instead of set up per call, and a user's point is kept
    (up to `MAX_REMEMBERED` users, then forgotten all at once): a user makes many requests.
    """

    MAX_REMEMBERED = 65536

    def __init__(self, salt: bytes) -> None:
        self._keyed = blake2b(digest_size=8, key=salt[:64])
        self.known: dict[bytes, float] = {}

    def __call__(self, key: bytes) -> float:
        point = self.known.get(key)
        if point is None:
            if len(self.known) >= self.MAX_REMEMBERED:
                self.known.clear()
            state = self._keyed.copy()
            state.update(key)
            point = self.known[key] = int.from_bytes(state.digest(), "big") / _SCALE
        return point


def cookie_value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The value of cookie `name` in the request's Cookie header(s), or None."""
    wanted = name + b"="
    size = len(wanted)
    for header, value in headers:
        if len(header) == 6 and (header == b"Cookie" or header.lower() == b"cookie"):
            at = value.find(wanted)
            while at >= 0:  # a match must start the header or follow "; "
                if at == 0 or value[at - 1] in b"; \t":
                    end = value.find(b";", at + size)
                    found = value[at + size :] if end < 0 else value[at + size : end]
                    return found.strip().strip(b'"')
                at = value.find(wanted, at + 1)
    return None


class Canary(FallsBack):
    name: ClassVar[str] = "canary"

    def __init__(self, route: Route, settings: Mapping[str, Any]) -> None:
        super().__init__(route)
        target = self.target = route.target
        self.threshold = float(settings["percent"]) / 100
        kind, _, name = str(settings.get("sticky", f"cookie:{COOKIE}")).partition(":")
        self.header = name.lower().encode() if kind == "header" else None
        self.cookie = name.encode() if kind == "cookie" else COOKIE.encode()
        self.point = Points(target.encode())
        self.known = self.point.known

    def choose(self, exchange: Exchange) -> str | None:
        headers = exchange.head.headers
        key = None
        if self.header is not None:
            wanted = self.header
            key = next((v for n, v in headers if n.lower() == wanted), None)
        if key is None:
            key = cookie_value(headers, self.cookie)
        if key is None:  # a new user: the proxy's own cookie keeps them on this side
            key = b"%016x" % getrandbits(64)
            exchange.add_response_header(
                b"Set-Cookie: %s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax"
                % (self.cookie, key, COOKIE_MAX_AGE)
            )
        point = self.known.get(key)  # Points' memory, read inline: this runs per request
        if point is None:
            point = self.point(key)
        if point < self.threshold:
            return self.target
        return None  # the plan's choice: the monolith


@for_mode(
    "canary",
    "a sticky share of users (options.canary.percent) goes to the route's target",
    needs="canary",
)
def _canary(route: Route) -> Canary:
    return Canary(route, route.policy.options["canary"])
