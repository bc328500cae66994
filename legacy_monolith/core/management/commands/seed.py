"""`manage.py seed --size small|large`: fill the shop with believable, consistent data, fast."""

from __future__ import annotations

import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from legacy_monolith.accounts.models import User
from legacy_monolith.catalog.models import Product
from legacy_monolith.core.seeding import CUSTOMER_PASSWORD, SIZES, ShopSeeder
from legacy_monolith.orders.models import Order


def shop_is_empty() -> bool:
    return not (User.objects.exists() or Product.objects.exists() or Order.objects.exists())


class Command(BaseCommand):
    help = "Fill the shop with believable data (small: a demo; large: 100k+ order lines)."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument("--seed", type=int, default=42, help="same seed, same data (on the same day)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--if-empty", action="store_true", help="do nothing when the shop has data")
        group.add_argument("--reset", action="store_true", help="delete all data first")

    def handle(self, *args, size: str, seed: int, if_empty: bool, reset: bool, **options):
        if not shop_is_empty():
            if if_empty:
                self.stdout.write("seed: the shop already has data; nothing to do")
                return
            if not reset:
                raise CommandError("the shop already has data; pass --reset to replace it or --if-empty to keep it")
            call_command("flush", interactive=False, verbosity=0)

        seeder = ShopSeeder(SIZES[size], seed)
        started = time.perf_counter()
        with transaction.atomic():
            self._run(seeder.phases())
            self._reset_sequences(seeder)
        elapsed = time.perf_counter() - started
        self._summary(seeder, size, elapsed)

    def _run(self, phases) -> None:
        if sys.stdout.isatty() and self.stdout._out is sys.stdout:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("seed: {task.description:<22}"), BarColumn(), TimeElapsedColumn()) as bar:
                task = bar.add_task("starting", total=len(phases))
                for name, build in phases:
                    bar.update(task, description=name)
                    build()
                    bar.advance(task)
            return
        for name, build in phases:
            phase_started = time.perf_counter()
            build()
            self.stdout.write(f"seed: {name} ({time.perf_counter() - phase_started:.1f} s)")

    def _reset_sequences(self, seeder: ShopSeeder) -> None:
        """Rows were inserted with explicit ids; move PostgreSQL's sequences past them."""
        from django.apps import apps

        models = [apps.get_model(label) for label in seeder.counts if "_" not in label.split(".")[1]]
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    def _summary(self, seeder: ShopSeeder, size: str, elapsed: float) -> None:
        total = sum(seeder.counts.values())
        width = max(len(label) for label in seeder.counts)
        for label, count in sorted(seeder.counts.items()):
            self.stdout.write(f"  {label:<{width}}  {count:>9,}")
        self.stdout.write(
            f"seed: {size} shop, {total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s). "
            f"Log in as admin/admin, or any customer with password {CUSTOMER_PASSWORD!r}."
        )
