"""Per-row checksums of a domain, the same way on both sides, and their comparison.

Each side hashes the canonical JSON of each aggregate's state (extracted.seam.events.canonical),
built from its own tables by its own `state()`: equal hashes mean equal data, whatever the two
schemas look like underneath. The monolith reads the service's side through the service's API
(GET /seam/checksums/...), never through its database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from extracted.seam.domains import Aggregate, Domain
from extracted.seam.events import checksum
from extracted.seam.models import AggregateVersion

PAGE = 500


def page(
    aggregate: Aggregate,
    *,
    after: str | None = None,
    limit: int = PAGE,
    ids: list[str] | None = None,
) -> dict[str, Any]:
    """One page of this side's checksums, keys in order, for the API; with `ids`, those keys
    only (the ones this side does not have are left out)."""
    if ids is not None:  # asked by key: no listing of the whole table
        keys = sorted({aggregate.parse_key(i) for i in ids}, key=_sortable)
    else:
        keys = list(aggregate.keys())
    if after is not None:
        start = aggregate.parse_key(after)
        keys = [k for k in keys if _sortable(k) > _sortable(start)]
    chosen = keys[:limit]
    versions = dict(
        AggregateVersion.objects.filter(aggregate_type=aggregate.name, aggregate_id__in=[aggregate.key_text(k) for k in chosen])
        .values_list("aggregate_id", "version")
    )  # fmt: skip
    states = ((k, aggregate.state(k)) for k in chosen)
    items = [
        {"id": aggregate.key_text(k), "version": versions.get(aggregate.key_text(k)), "checksum": checksum(state)}
        for k, state in states
        if state is not None or ids is None
    ]  # fmt: skip
    return {
        "aggregate": aggregate.name,
        "items": items,
        "next": items[-1]["id"] if len(keys) > limit else None,
    }


def local(aggregate: Aggregate, ids: set[str] | None = None) -> Iterator[tuple[str, str]]:
    keys = aggregate.keys() if ids is None else (aggregate.parse_key(i) for i in sorted(ids))
    for key in keys:
        state = aggregate.state(key)
        if ids is None or state is not None:
            yield aggregate.key_text(key), checksum(state)


@dataclass(frozen=True)
class Difference:
    aggregate: str
    id: str
    kind: str  # missing (only here) | extra (only there) | differs
    here: str | None
    there: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "aggregate": self.aggregate,
            "id": self.id,
            "kind": self.kind,
            "here": self.here,
            "there": self.there,
        }


def compare(aggregate: str, here: dict[str, str], there: dict[str, str]) -> list[Difference]:
    found = []
    for key in sorted(set(here) | set(there), key=_sortable):
        mine, theirs = here.get(key), there.get(key)
        if mine == theirs:
            continue
        kind = "missing" if theirs is None else "extra" if mine is None else "differs"
        found.append(Difference(aggregate, key, kind, mine, theirs))
    return found


def _sortable(key: Any) -> tuple[int, Any]:
    text = str(key)
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


def aggregates(domain: Domain) -> list[Aggregate]:
    return list(domain.aggregates)
