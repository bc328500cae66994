"""The `shadow` mode: the monolith answers; the same request is mirrored to the service and compared.

The client always gets the monolith's answer, at the monolith's speed. Before forwarding,
`choose` picks the request for mirroring when the mirror can take it (its queue has room,
and this second's `max_per_second` is not used up); only a picked request's bodies are
kept beside the stream (up to `[proxy.shadow] max_body`). After the response has gone
out, `observe` turns it into a mirror job in the bounded queue (`strangler_proxy/mirror.py`). Only the route's safe methods are mirrored (GET and HEAD
by default), never a WebSocket or an event stream, never a request the proxy answered
itself, and never a body over the cap.

Settings (`policy.options["shadow"]`, all optional):
- `methods`: the methods that may be sent twice, e.g. ["GET", "HEAD"];
- `ignore`: JSONPaths left out of the comparison, e.g. ["$.generated_at", "$..etag"],
  plus "status" or "header:NAME";
- `headers`: the response headers compared (default ["content-type"]);
- `redact`: JSONPaths (or header:NAME) whose values never appear in a sample;
  Authorization, Cookie and Set-Cookie never do anyway;
- `noise_rate`: the share of mirrors also sent to the monolith again to learn noise
  (default `[proxy.shadow] noise_rate`; 0 turns learning off).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from strangler_proxy.behaviours import DEFAULT_METHODS, Behaviour, check_methods, for_mode
from strangler_proxy.diffing import Rules, check_paths
from strangler_proxy.errors import RouteError
from strangler_proxy.mirror import Job, RouteSettings, answer_of, job_headers
from strangler_proxy.policy import register_behaviour
from strangler_proxy.routing import HEADER_NAME_RE

if TYPE_CHECKING:
    from strangler_proxy.config import ProxyConfig
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route

DEFAULT_HEADERS = ("content-type",)
_SETTINGS = {"methods", "ignore", "headers", "redact", "noise_rate"}


def validate(settings: Mapping[str, Any]) -> None:
    unknown = set(settings) - _SETTINGS
    if unknown:
        raise RouteError(
            f"unknown shadow setting(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_SETTINGS))})"
        )
    check_methods(settings.get("methods", list(DEFAULT_METHODS)))
    headers = settings.get("headers", list(DEFAULT_HEADERS))
    if not isinstance(headers, list | tuple) or not all(
        isinstance(h, str) and HEADER_NAME_RE.fullmatch(h) for h in headers
    ):
        raise RouteError(f"'headers' must be a list of header names, not {headers!r}")
    check_paths(settings.get("ignore", []), "ignore")
    check_paths(settings.get("redact", []), "redact")
    rate = settings.get("noise_rate", 0.1)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise RouteError(f"'noise_rate' must be a number from 0 to 1, not {rate!r}")


register_behaviour("shadow", validate)


class Shadow(Behaviour):
    name: ClassVar[str] = "shadow"

    def __init__(self, route: Route, settings: Mapping[str, Any]) -> None:
        self.route = route.name
        self.target = route.target
        self.methods = frozenset(m.encode() for m in settings.get("methods", DEFAULT_METHODS))
        self.settings_in = settings
        self.settings: RouteSettings | None = None
        self.max_body = 0

    def configure(self, config: ProxyConfig) -> None:
        cfg = config.proxy.shadow
        settings = self.settings_in
        self.max_body = cfg.max_body
        self.settings = RouteSettings(
            service=self.target,
            ignore=Rules.of(settings.get("ignore", ())),
            redact=Rules.of(settings.get("redact", ())),
            headers=tuple(h.lower() for h in settings.get("headers", DEFAULT_HEADERS)),
            noise_rate=float(settings.get("noise_rate", cfg.noise_rate)),
        )

    def choose(self, exchange: Exchange) -> None:
        """Pick this request for mirroring (and keep its bodies) only when it can be sent."""
        head = exchange.head
        if head.method not in self.methods or head.upgrade:
            return None
        mirror = exchange.conn.worker.mirror
        if mirror.full():
            mirror.count(self.route, "dropped")
        elif not mirror.over_rate():
            # One byte more than the cap: a body that fills it is known to be over.
            exchange.start_tee(self.max_body + 1, self.max_body + 1)
        return None  # the monolith answers

    def observe(self, exchange: Exchange) -> None:
        if exchange.tee_out is None:
            return  # not picked: the common case under load costs this one check
        head = exchange.head
        call = exchange.call
        worker = exchange.conn.worker
        if (
            exchange.upgraded
            or call is None
            or not exchange.complete
            or exchange.target != worker.default
            or self.settings is None
        ):
            return
        if any(
            n.lower() == b"accept" and b"text/event-stream" in v.lower() for n, v in head.headers
        ):
            return  # a long-lived stream: never mirrored
        headers = exchange.tee_headers or []
        if any(n.lower() == b"content-type" and b"event-stream" in v for n, v in headers):
            return
        body = b"".join(exchange.tee or ())
        answer = b"".join(exchange.tee_out)
        mirror = worker.mirror
        if len(body) > self.max_body or len(answer) > self.max_body:
            mirror.count(self.route, "skipped")
            return
        mirror.submit(
            Job(
                route=self.route,
                settings=self.settings,
                method=head.method.decode("ascii"),
                target=call.path.decode("latin-1"),
                headers=job_headers(call.headers),
                body=body,
                monolith=answer_of(
                    exchange.status, headers, answer, self.settings.headers, self.max_body
                ),
                request_id=call.request_id.decode("latin-1"),
            )
        )


@for_mode(
    "shadow", "the monolith answers; requests are mirrored to the route's target and compared"
)
def _shadow(route: Route) -> Shadow:
    return Shadow(route, route.policy.options.get("shadow") or {})
