"""Seeding a shop: the builders run phase by phase inside one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from legacy_monolith.core.seeding import (
    catalogue,
    engagement,
    orders,
    people,
    reference,
    reports,
    stock,
)
from legacy_monolith.core.seeding.sizes import Size
from legacy_monolith.core.seeding.store import RowWriter, delete_shop_data, reset_sequences
from legacy_monolith.core.seeding.world import World


class Reporter(Protocol):
    """Told what happens, so a terminal can show it."""

    def start(self, phase: str) -> None: ...
    def advance(self, rows: int) -> None: ...
    def finish(self, phase: str, rows: int, seconds: float) -> None: ...


@dataclass(frozen=True)
class PhaseResult:
    name: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class SeedResult:
    counts: dict[str, int]  # rows per table, by model label
    phases: list[PhaseResult]
    seconds: float
    customer_username: str  # one to log in with

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


class ShopSeeder:
    """Builds one shop from a size and a seed: the same seed on the same day gives the same rows
    (dates hang off the start of today)."""

    def __init__(
        self,
        size: Size,
        seed: int,
        *,
        now: datetime | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        today = (now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
        self.world = World.create(size, seed, today)
        self.writer = RowWriter(today, on_rows)

    def phases(self) -> list[tuple[str, Callable[[], None]]]:
        world, out = self.world, self.writer
        return [
            ("reference data", lambda: reference.build(world, out)),
            ("customers", lambda: people.build(world, out)),
            ("catalogue", lambda: catalogue.build(world, out)),
            ("orders", lambda: orders.build(world, out)),
            ("stock", lambda: stock.write(world, out)),
            ("customer profiles", lambda: people.write_profiles(world, out)),
            ("reviews", lambda: engagement.build_reviews(world, out)),
            ("carts and wishlists", lambda: engagement.build_carts(world, out)),
            ("reports", lambda: reports.build(world, out)),
        ]


class _Quiet:
    def start(self, phase: str) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def finish(self, phase: str, rows: int, seconds: float) -> None:
        pass


def seed_shop(
    size: Size,
    seed: int,
    *,
    reset: bool = False,
    reporter: Reporter | None = None,
    now: datetime | None = None,
) -> SeedResult:
    """Fill the shop (emptying it first with `reset`), all or nothing."""
    reporter = reporter or _Quiet()
    seeder = ShopSeeder(size, seed, now=now, on_rows=reporter.advance)
    started = time.perf_counter()
    results = []
    with transaction.atomic():
        if reset:
            reporter.start("reset")
            delete_shop_data()
            reporter.finish("reset", 0, time.perf_counter() - started)
        with seeder.writer.explicit_timestamps():
            for name, build in seeder.phases():
                reporter.start(name)
                phase_started, rows_before = time.perf_counter(), sum(seeder.writer.counts.values())
                build()
                result = PhaseResult(
                    name,
                    sum(seeder.writer.counts.values()) - rows_before,
                    time.perf_counter() - phase_started,
                )
                results.append(result)
                reporter.finish(name, result.rows, result.seconds)
        reset_sequences(seeder.writer.models)
    customers = seeder.world.customers
    return SeedResult(
        dict(seeder.writer.counts),
        results,
        time.perf_counter() - started,
        customers[0].user.username if customers else "",
    )
