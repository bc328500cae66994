"""`manage.py seed --size small|large`: fill the shop with believable, consistent data, fast.

small is a demo (seconds); large has 100,000+ order lines (about a minute). The same --seed
gives the same shop on the same day.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import DatabaseError, connection

from legacy_monolith.accounts.models import User
from legacy_monolith.catalog.models import Product
from legacy_monolith.core.seeding import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CUSTOMER_PASSWORD,
    SIZES,
    SeedResult,
    seed_shop,
    shop_has_data,
)
from legacy_monolith.orders.models import Order


class Command(BaseCommand):
    help = "Fill the shop with believable, consistent data (small: a demo; large: 100,000+ order lines)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--size", choices=sorted(SIZES), default="small", help="small (demo) or large (load)"
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="same seed, same shop (on the same day)"
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--if-empty", action="store_true", help="do nothing when the shop already has data"
        )
        group.add_argument("--reset", action="store_true", help="delete the shop's data first")

    def handle(
        self,
        *args: Any,
        size: str,
        seed: int,
        if_empty: bool,
        reset: bool,
        verbosity: int,
        **options: Any,
    ) -> None:
        try:
            has_data = shop_has_data()
        except DatabaseError as exc:
            raise CommandError(
                f"cannot read the shop's tables ({exc}); run `manage.py migrate` first"
            ) from exc
        if has_data and not reset:
            what = _describe_shop()
            if if_empty:
                if verbosity:
                    self.stdout.write(
                        f"seed: the shop already has {what}; nothing to do (--if-empty)"
                    )
                return
            raise CommandError(
                f"the shop already has {what}; pass --reset to replace it or --if-empty to keep it"
            )

        interactive = verbosity > 0 and self.stdout.isatty()
        if interactive:
            with RichReporter(self.stdout._out) as reporter:
                result = seed_shop(SIZES[size], seed, reset=reset, reporter=reporter)
        else:
            reporter = PlainReporter(self.stdout) if verbosity else None
            result = seed_shop(SIZES[size], seed, reset=reset, reporter=reporter)
        if verbosity:
            self._summary(result, size, seed, interactive)

    def _summary(self, result: SeedResult, size: str, seed: int, interactive: bool) -> None:
        counts = sorted(result.counts.items())
        if interactive:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"{size} shop, seed {seed}", show_footer=True)
            table.add_column("table", footer="total")
            table.add_column("rows", justify="right", footer=f"{result.rows:,}")
            for label, rows in counts:
                table.add_row(label, f"{rows:,}")
            Console(file=self.stdout._out).print(table)
        else:
            width = max(len(label) for label, _ in counts)
            for label, rows in counts:
                self.stdout.write(f"  {label:<{width}}  {rows:>9,}")
        database = connection.settings_dict
        self.stdout.write(
            f"seed: {size} shop (seed {seed}) in {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}: "
            f"{result.rows:,} rows in {result.seconds:.1f} s ({result.rows / result.seconds:,.0f} rows/s)"
        )
        self.stdout.write(
            f"seed: log in as {ADMIN_USERNAME} / {ADMIN_PASSWORD} (superuser); customers and staff use "
            f"{CUSTOMER_PASSWORD!r}, e.g. {result.customer_username}"
        )


def _describe_shop() -> str:
    counts = {
        "orders": Order.objects.count(),
        "users": User.objects.count(),
        "products": Product.objects.count(),
    }
    found = [f"{count:,} {name}" for name, count in counts.items() if count]
    return ", ".join(found) if found else "data"


class PlainReporter:
    """One line per phase, for logs and pipes."""

    def __init__(self, stdout: OutputWrapper) -> None:
        self.stdout = stdout

    def start(self, phase: str) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def finish(self, phase: str, rows: int, seconds: float) -> None:
        done = f"{rows:,} rows" if rows or phase != "reset" else "emptied the shop's tables"
        self.stdout.write(f"seed: {phase}: {done} in {seconds:.1f} s")


class RichReporter:
    """A progress line per phase on a terminal: rows written so far, then the time it took."""

    def __init__(self, file: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("seed: {task.description:<20}"),
            BarColumn(),
            TextColumn("{task.completed:>10,.0f} rows"),
            TimeElapsedColumn(),
            console=Console(file=file),
        )
        self.task = None
        self.started = time.perf_counter()

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def start(self, phase: str) -> None:
        self.task = self.progress.add_task(phase, total=None)

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)

    def finish(self, phase: str, rows: int, seconds: float) -> None:
        self.progress.update(self.task, total=max(rows, 1), completed=rows)
        self.progress.stop_task(self.task)
