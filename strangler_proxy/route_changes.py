"""The changes an operator makes to the route table, as plain functions on a Transaction.

Each checks the table as it is under the store's write lock and raises RouteError
(bad input), RouteNotFound or RouteConflict with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from strangler_proxy.errors import RouteConflict, RouteError, RouteNotFound
from strangler_proxy.policy import MODES, Policy, load_behaviours
from strangler_proxy.routing import Route, RouteTable
from strangler_proxy.store import Transaction


def _check_target(route: Route, upstreams: Iterable[str]) -> None:
    names = sorted(upstreams)
    if route.target not in names:
        raise RouteError(
            f"unknown upstream {route.target!r} for route {route.name!r}: the config names {', '.join(names)}"
        )


def _existing(tx: Transaction, name: str) -> Route:
    try:
        return tx.routes[name]
    except KeyError:
        raise RouteNotFound(
            f"no route named {name!r}: `figkit routes list` shows the table"
        ) from None


def add(tx: Transaction, route: Route, upstreams: Iterable[str]) -> Route:
    route.validate()
    if route.name in tx.routes:
        raise RouteConflict(
            f"a route named {route.name!r} exists already: pick another name, or `move` it"
        )
    _check_target(route, upstreams)
    RouteTable([*tx.routes.values(), route])  # the new table must still compile
    tx.put(route)
    return route


def set_mode(
    tx: Transaction, name: str, mode: str | None, options: Mapping[str, Any] | None = None
) -> Route:
    """Change a route's mode (None: keep it) and behaviours' settings, keeping the rest of its policy.

    `options` updates the named behaviours' settings key by key: raising a canary's
    percent keeps its sticky key (changing that would reshuffle users); a setting given
    as None is unset. A behaviour given as None is turned off (its settings removed), as
    `figkit routes fault --off` does.
    """
    load_behaviours()
    if mode is not None and mode not in MODES:
        raise RouteError(f"bad mode {mode!r}: use {' or '.join(MODES)}")
    route = _existing(tx, name)
    merged = route.policy.to_dict().get("options", {})
    for behaviour, settings in (options or {}).items():
        if settings is None:
            merged.pop(behaviour, None)
            continue
        if not isinstance(settings, Mapping):
            raise RouteError(f"options[{behaviour!r}] must be an object of settings, or null")
        updated = {**merged.get(behaviour, {}), **settings}
        merged[behaviour] = {k: v for k, v in updated.items() if v is not None}  # null: unset
    policy = Policy(route.policy.mode if mode is None else mode, merged)
    policy.validate(name)
    route = replace(route, policy=policy)
    tx.put(route)
    return route


def set_policy(tx: Transaction, name: str, policy: Mapping[str, Any]) -> Route:
    """Replace a route's whole policy (mode and options) from its JSON form."""
    route = replace(_existing(tx, name), policy=Policy.from_dict(policy))
    tx.put(route)
    return route


def move(tx: Transaction, name: str, target: str, upstreams: Iterable[str]) -> Route:
    """Point a route at another upstream, keeping its mode."""
    route = replace(_existing(tx, name), target=target)
    _check_target(route, upstreams)
    tx.put(route)
    return route


def remove(tx: Transaction, name: str) -> Route:
    route = _existing(tx, name)
    tx.delete(name)
    return route


def rollback(tx: Transaction, name: str | None) -> list[Route]:
    """Send one route, or every route (name None), back to the monolith."""
    chosen = list(tx.routes.values()) if name is None else [_existing(tx, name)]
    moved = [
        replace(r, policy=replace(r.policy, mode="monolith"))
        for r in chosen
        if r.mode != "monolith"
    ]
    for route in moved:
        tx.put(route)
    return moved


def import_routes(
    tx: Transaction, specs: Iterable[Mapping], upstreams: Iterable[str], replace_all: bool = False
) -> list[Route]:
    """Add or update routes from exported JSON; with replace_all, drop the ones not listed."""
    upstreams = list(upstreams)
    routes: list[Route] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        try:
            route = Route.from_dict(spec)
        except RouteError as exc:
            raise RouteError(f"route #{i + 1} in the import: {exc}") from None
        if route.name in seen:
            raise RouteConflict(f"route {route.name!r} appears twice in the import")
        seen.add(route.name)
        _check_target(route, upstreams)
        routes.append(route)
    kept = {} if replace_all else {n: r for n, r in tx.routes.items() if n not in seen}
    RouteTable([*kept.values(), *routes])
    if replace_all:
        for gone in set(tx.routes) - seen:
            tx.delete(gone)
    for route in routes:
        if tx.routes.get(route.name) != route:
            tx.put(route)
    return routes
