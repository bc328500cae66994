"""The seam's settings, read from Django's `SEAM` setting:

SEAM = {
    "SERVICE": "monolith",            # this side's name: events say where they come from, and
                                       # its inbox is the broker queue "seam.<SERVICE>"
    "DOMAINS": {
        "catalog": {
            "spec": "legacy_monolith.catalog.seam.CATALOG",  # the Domain declared over this side's models
            "role": "owner",           # who writes before the first flip: "owner" or "follower"
            "peer": "catalog",         # the other side: the owner's events go to its inbox
            "peer_url": "http://127.0.0.1:8200",  # its HTTP API (reconcile, flip)
        },
    },
    "MAX_ATTEMPTS": 5,                 # failures of one event before it is dead-lettered
    "RELAY_BATCH": 200,                # events one relay claims at a time
}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from django.conf import settings
from django.utils.module_loading import import_string

from extracted.seam.domains import Domain
from extracted.seam.events import SeamError

Role = Literal["owner", "follower"]
ROLES: tuple[Role, ...] = ("owner", "follower")


@dataclass(frozen=True)
class DomainConfig:
    spec: Domain
    initial_role: Role
    peer: str
    peer_url: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def destination(self) -> str:
        """The queue this side's events of the domain go to: the peer's inbox."""
        return inbox_queue(self.peer)


def inbox_queue(service: str) -> str:
    """A side's inbox queue: `seam.<service>`, after SEAM['QUEUE_PREFIX'] (or env
    SEAM_QUEUE_PREFIX), so that several environments (staging, a test run, a benchmark) can
    share one broker without reading each other's events."""
    import os

    prefix = str(
        (getattr(settings, "SEAM", None) or {}).get("QUEUE_PREFIX")
        or os.environ.get("SEAM_QUEUE_PREFIX", "")
    )
    return f"{prefix}seam.{service}"


def _raw() -> dict:
    raw = getattr(settings, "SEAM", None)
    if not isinstance(raw, dict):
        raise SeamError(
            "settings.SEAM is missing: add SEAM = {'SERVICE': ..., 'DOMAINS': {...}} (docs/seam.md)"
        )
    return raw


def service_name() -> str:
    name = _raw().get("SERVICE")
    if not name:
        raise SeamError("settings.SEAM['SERVICE'] is missing: name this side, e.g. 'monolith'")
    return str(name)


def token() -> str:
    """The bearer token both sides share for ownership changes: SEAM['TOKEN'] or env SEAM_TOKEN."""
    import os

    return str(_raw().get("TOKEN") or os.environ.get("SEAM_TOKEN", ""))


def max_attempts() -> int:
    return int(_raw().get("MAX_ATTEMPTS", 5))


def relay_batch() -> int:
    return int(_raw().get("RELAY_BATCH", 200))


@cache
def domains() -> tuple[DomainConfig, ...]:
    found = []
    for name, entry in _raw().get("DOMAINS", {}).items():
        try:
            spec = import_string(entry["spec"])
        except (ImportError, KeyError) as exc:
            raise SeamError(
                f"SEAM['DOMAINS'][{name!r}]['spec'] does not name a Domain: {exc}"
            ) from None
        if not isinstance(spec, Domain) or spec.name != name:
            raise SeamError(f"SEAM['DOMAINS'][{name!r}]['spec'] must be a Domain named {name!r}")
        role = entry.get("role", "owner")
        if role not in ROLES:
            raise SeamError(
                f"SEAM['DOMAINS'][{name!r}]['role'] is {role!r}; use 'owner' or 'follower'"
            )
        found.append(
            DomainConfig(spec, role, str(entry.get("peer", "")), str(entry.get("peer_url", "")))
        )
    return tuple(found)


def domain(name: str) -> DomainConfig:
    for config in domains():
        if config.name == name:
            return config
    known = ", ".join(d.name for d in domains()) or "none"
    raise SeamError(f"no domain {name!r} in settings.SEAM['DOMAINS'] (known: {known})")


def domain_of_aggregate(aggregate_type: str) -> DomainConfig:
    for config in domains():
        if any(a.name == aggregate_type for a in config.spec.aggregates):
            return config
    raise SeamError(f"no domain in settings.SEAM['DOMAINS'] has aggregate {aggregate_type!r}")
