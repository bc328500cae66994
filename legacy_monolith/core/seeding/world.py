"""The shop under construction: what one builder leaves in memory for the next.

Every row gets its primary key here (`next_id`), so builders link rows without reading ids
back from the database.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar

from faker import Faker

from legacy_monolith.accounts.models import Address, User
from legacy_monolith.catalog.models import Brand, Category, Product, ProductVariant, Tag
from legacy_monolith.core.seeding.sizes import Size
from legacy_monolith.inventory.models import Warehouse
from legacy_monolith.promotions.models import Coupon, Promotion
from legacy_monolith.shipping.models import ShippingMethod

if TYPE_CHECKING:
    from legacy_monolith.core.seeding.lifecycle import Life
    from legacy_monolith.core.seeding.stock import StockLedger

T = TypeVar("T")

# Customers come from these countries, with the Faker locale that gives them names and addresses.
LOCALES = {"DE": "de_DE", "AT": "de_AT", "GB": "en_GB", "NL": "nl_NL"}


class Pool(Generic[T]):
    """Things that become available over time, drawn with weights: customers who have
    joined by then, products on sale by then."""

    def __init__(self, entries: list[tuple[datetime, float, T]]) -> None:
        entries = sorted(entries, key=lambda entry: entry[0])
        self._since = [since for since, _, _ in entries]
        self._items = [item for _, _, item in entries]
        self._cumulative = list(itertools.accumulate(weight for _, weight, _ in entries))

    def __len__(self) -> int:
        return len(self._items)

    def pick(self, rng: random.Random, at: datetime) -> T:
        available = max(bisect_right(self._since, at), 1)
        point = rng.random() * self._cumulative[available - 1]
        return self._items[bisect_right(self._cumulative, point, 0, available - 1)]

    def pick_distinct(self, rng: random.Random, at: datetime, count: int) -> list[T]:
        chosen: dict[int, T] = {}
        for _ in range(count * 4):
            item = self.pick(rng, at)
            chosen.setdefault(id(item), item)
            if len(chosen) == count:
                break
        return list(chosen.values())


@dataclass
class Customer:
    user: User
    addresses: list[Address]
    wants_order_mail: bool
    lifetime_value: Decimal = Decimal("0.00")
    loyalty_points: int = 0
    last_paid_at: datetime | None = None


@dataclass
class Item:
    """A variant on sale, with what the order builder needs to know about it."""

    variant: ProductVariant
    product: Product
    category_id: int
    digital: bool
    on_sale_from: datetime


@dataclass
class Method:
    model: ShippingMethod
    carrier: str
    weight: int
    retired_at: datetime | None


@dataclass
class Sale:
    """What the daily sales snapshots need to know about one order."""

    placed_at: datetime
    total: Decimal
    life: Life
    lines: list[tuple[int, int, Decimal]]  # (category id, quantity, line total)


@dataclass
class World:
    size: Size
    now: datetime
    rng: random.Random
    fakers: dict[str, Faker]
    _ids: dict[type, Iterator[int]] = field(default_factory=dict)

    # reference data
    template_ids: dict[str, int] = field(default_factory=dict)
    warehouses: list[Warehouse] = field(default_factory=list)
    supplier_names: dict[int, str] = field(default_factory=dict)  # by warehouse id
    methods: list[Method] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)  # the leaves products sit in
    brands: list[Brand] = field(default_factory=list)  # the first six publish books
    tags: dict[str, Tag] = field(default_factory=dict)
    promotions: list[Promotion] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)
    # people
    admin: User | None = None
    staff_ids: list[int] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    customer_pool: Pool[Customer] | None = None
    # catalogue
    items: list[Item] = field(default_factory=list)
    item_pool: Pool[Item] | None = None
    quality: dict[int, float] = field(default_factory=dict)  # by product id: how reviews lean
    ledger: StockLedger | None = None
    # what orders leave behind for reviews and reports
    delivered_lines: list[tuple[int, int, int, datetime]] = field(default_factory=list)
    bought: set[tuple[int, int]] = field(default_factory=set)  # (customer id, product id)
    sales: list[Sale] = field(default_factory=list)

    @classmethod
    def create(cls, size: Size, seed: int, now: datetime) -> World:
        fakers = {}
        for offset, locale in enumerate(LOCALES.values()):
            fakers[locale] = Faker(locale)
            fakers[locale].seed_instance(seed * 31 + offset)
        return cls(size=size, now=now, rng=random.Random(seed), fakers=fakers)

    def next_id(self, model: type) -> int:
        counter = self._ids.setdefault(model, itertools.count(1))
        return next(counter)
