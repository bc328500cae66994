"""Reconciliation: both sides of a domain compared row by row, by checksum, and repaired on demand.

The peer's side is read through its HTTP API (GET {peer_url}/seam/checksums/<aggregate>/), so a
service's database stays its own. `repair` writes, for every row that differs, the owner's
current state as a new version into the outbox (an `upserted`, or a `deleted` for a row the
peer has and the owner does not); the relay and the peer's inbox do the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from django.db import transaction

from extracted.seam import checksums, ownership
from extracted.seam.checksums import Difference
from extracted.seam.events import SeamError
from extracted.seam.outbox import publish
from extracted.seam.settings import DomainConfig

TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class PeerUnreachable(SeamError):
    pass


@dataclass
class Reconciliation:
    domain: str
    peer: str
    checked: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    repaired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "peer": self.peer,
            "checked": self.checked,
            "counts": self.counts,
            "differences": [d.as_dict() for d in self.differences],
            "repaired": self.repaired,
        }


def peer_checksums(
    config: DomainConfig, aggregate: str, client: httpx.Client, ids: set[str] | None = None
) -> dict[str, str]:
    found: dict[str, str] = {}
    url = f"{config.peer_url.rstrip('/')}/seam/checksums/{aggregate}/"
    if ids is not None:
        # A targeted check: a few keys, asked in chunks that keep the URL short.
        chosen = sorted(ids)
        for start in range(0, len(chosen), 200):
            found.update(
                _peer_page(
                    config,
                    url,
                    client,
                    {"ids": ",".join(chosen[start : start + 200]), "limit": "5000"},
                )[0]
            )
        return found
    after: str | None = None
    while True:
        params = {"limit": str(checksums.PAGE), **({"after": after} if after is not None else {})}
        items, after = _peer_page(config, url, client, params)
        found.update(items)
        if after is None:
            return found


def _peer_page(
    config: DomainConfig, url: str, client: httpx.Client, params: dict[str, str]
) -> tuple[dict[str, str], str | None]:
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise PeerUnreachable(
            f"{config.peer} does not answer at {url} ({type(exc).__name__}); is it running? its URL comes from {config.peer.upper()}_URL"
        ) from None
    if response.status_code != 200:
        raise PeerUnreachable(
            f"{config.peer} answered {response.status_code} at {url}: {response.text[:200]}"
        )
    page = response.json()
    return {item["id"]: item["checksum"] for item in page["items"]}, page.get("next")


def reconcile(config: DomainConfig, *, repair: bool = False, client: httpx.Client | None = None,
              only: dict[str, set[str]] | None = None) -> Reconciliation:  # fmt: skip
    """Compare the domain on both sides; with `only` (aggregate -> keys), just those rows."""
    result = Reconciliation(config.name, config.peer)
    own_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT)
    try:
        for aggregate in config.spec.aggregates:
            ids = None if only is None else only.get(aggregate.name, set())
            if ids is not None and not ids:
                continue
            here = dict(checksums.local(aggregate, ids))
            there = peer_checksums(config, aggregate.name, client, ids)
            result.checked += len(set(here) | set(there))
            result.counts[aggregate.name] = {"here": len(here), "there": len(there)}
            result.differences.extend(checksums.compare(aggregate.name, here, there))
    finally:
        if own_client:
            client.close()
    if repair and result.differences:
        result.repaired = _repair(config, result.differences)
    return result


def _repair(config: DomainConfig, differences: list[Difference]) -> int:
    if ownership.role(config.name) != "owner":
        raise SeamError(
            f"this side follows {config.name}; run reconcile --repair on its owner ({config.peer})"
        )
    with transaction.atomic():
        for difference in differences:
            aggregate = config.spec.aggregate(difference.aggregate)
            publish(aggregate, aggregate.parse_key(difference.id))
    return len(differences)
