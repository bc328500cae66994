"""Fallback to the monolith when a route's service fails, for the methods that may be repeated.

(The same behaviour reports each outcome of the service to the worker's auto-rollback watch.)

A route that sends traffic to a service (mode `service`, or `canary` for the users on the
service) falls back to the default upstream (the monolith) when the service could not be
reached, timed out, broke off before sending anything, or its circuit breaker is open.
Only when nothing of the service's answer has reached the client, the request has no
body, and its method is one the route allows: GET and HEAD by default. The response then
carries `X-Figkit-Fallback: SERVICE`, and the access log and metrics count it for the
monolith (and the failure for the service).

`policy.options["fallback"] = {"methods": [...]}` changes the methods; `[]` turns
fallback off, for a route that must never touch the monolith again. A 5xx the service
answers itself is passed on: the service spoke, and repeating a request it may have acted
on is not the proxy's call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strangler_proxy import policy
from strangler_proxy.behaviours import DEFAULT_METHODS, Behaviour, check_methods
from strangler_proxy.errors import RouteError

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route


def validate(settings: Mapping[str, Any]) -> None:
    unknown = set(settings) - {"methods"}
    if unknown:
        raise RouteError(f"unknown fallback setting(s): {', '.join(sorted(unknown))}")
    check_methods(settings.get("methods", list(DEFAULT_METHODS)))


policy.register_behaviour("fallback", validate)


def fallback_methods(route: Route) -> frozenset[bytes]:
    settings = route.policy.options.get("fallback") or {}
    return frozenset(m.encode() for m in settings.get("methods", DEFAULT_METHODS))


class FallsBack(Behaviour):
    """Base of the modes that send traffic to a service: fallback, and the service's outcomes.

    No wrap: `recover` runs only when the service failed before answering, and `observe`
    after the response went out, so a healthy request pays two plain calls.
    """

    def __init__(self, route: Route) -> None:
        self.methods = fallback_methods(route)

    def recover(self, exchange: Exchange) -> bool:
        worker = exchange.conn.worker
        default = worker.default
        if exchange.target == default:
            return False
        if exchange.fault is None and not exchange.injected:
            worker.service_outcome(exchange.route_name, True)
        head = exchange.head
        if (
            not self.methods
            or head.method not in self.methods
            or not exchange.body_done
            or exchange.got_body
            or head.upgrade
            or exchange.conn.lost
        ):
            return False
        exchange.add_response_header(b"X-Figkit-Fallback: " + exchange.target.encode())
        exchange.call.upstream = default  # type: ignore[union-attr]
        return True

    def observe(self, exchange: Exchange) -> None:
        """The service answered (no failure, no fallback): count it for the rollback watch."""
        worker = exchange.conn.worker
        status = exchange.status
        if (
            exchange.target == worker.default
            or exchange.failure is not None
            or status == 499
            or exchange.fault is not None
            or exchange.injected
        ):
            return
        worker.service_outcome(exchange.route_name, status >= 500)
