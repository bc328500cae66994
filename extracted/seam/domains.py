"""A domain is what changes owner in one flip: its aggregates, and how each side reads, writes and
lists them. Each side (the monolith, a service) declares the domain over its own models.

    CATALOG = Domain("catalog", [
        Aggregate(contract.PRODUCT, root="catalog.Product",
                  members={"catalog.ProductVariant": "product_id", "catalog.Product_tags": "product_id"},
                  state=product_state, apply=apply_product, remove=remove_product, keys=product_keys),
        ...
    ])

- `state(key)` returns the aggregate's state as its schema, or None when there is no such row;
- `apply(state)` writes that state into this side's tables (create or update);
- `apply_many(states)`, optional, does it for many at once (a consumer applies a batch with it);
- `remove(key)` deletes it here;
- `keys()` lists every key this side holds, in a stable order.
Every save or delete of the root or of a member model, made through the ORM, is captured as an
event while this side owns the domain (extracted.seam.capture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from extracted.seam.events import AggregateType, SeamError

Key = Any


@dataclass(frozen=True)
class Aggregate:
    type: AggregateType
    root: str  # "app_label.Model"
    state: Callable[[Key], BaseModel | None]
    apply: Callable[[Any], None]
    remove: Callable[[Key], None]
    keys: Callable[[], Iterable[Key]]
    # Other models whose rows belong to the aggregate: "app_label.Model" -> attribute with the root's key.
    # Subclasses (multi-table inheritance) of the root are listed here with "pk".
    members: Mapping[str, str] = field(default_factory=dict)
    # apply for many states at once (a consumer's batch), reading what is here for all of them in
    # one go; without it each state is applied on its own.
    apply_many: Callable[[list[Any]], None] | None = None

    @property
    def name(self) -> str:
        return self.type.name

    def apply_all(self, states: list[Any]) -> None:
        if self.apply_many is not None:
            self.apply_many(states)
        else:
            for state in states:
                self.apply(state)

    def key_text(self, key: Key) -> str:
        return str(key)

    def parse_key(self, text: str) -> Key:
        return int(text) if text.lstrip("-").isdigit() else text


@dataclass(frozen=True)
class Domain:
    name: str
    aggregates: tuple[Aggregate, ...]

    def __init__(self, name: str, aggregates: Iterable[Aggregate]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "aggregates", tuple(aggregates))

    def aggregate(self, name: str) -> Aggregate:
        for aggregate in self.aggregates:
            if aggregate.name == name:
                return aggregate
        raise SeamError(f"domain {self.name!r} has no aggregate {name!r}")
