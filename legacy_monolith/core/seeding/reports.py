"""Daily sales snapshots and the report runs that made them.

Celery beat runs reporting.build_daily_sales_snapshot every hour for the day before, each run
overwriting the last; what stays is the run just after 23:00 the next day. Each snapshot holds
what that run saw: orders of the day that were paid, shipped or delivered at that moment (one
refunded a week later still counts on its day; one whose bank transfer came later does not).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import World
from legacy_monolith.core.utils import money
from legacy_monolith.reporting.models import DailySalesSnapshot, ReportRun
from legacy_monolith.reporting.queries import SOLD_STATUSES


def build(world: World, out: RowWriter) -> None:
    if not world.sales:
        return
    by_day = defaultdict(list)
    for sale in world.sales:
        by_day[sale.placed_at.date()].append(sale)
    snapshots, runs = [], []
    day, last = world.sales[0].placed_at.date(), world.now.date() - timedelta(days=2)
    while day <= last:
        taken = datetime.combine(day + timedelta(days=1), time(23, 5), tzinfo=world.now.tzinfo)
        orders = units = 0
        revenue = Decimal("0.00")
        by_category: dict[int, Decimal] = defaultdict(Decimal)
        for sale in by_day.get(day, ()):
            if sale.life.status_at(taken) not in SOLD_STATUSES:
                continue
            orders += 1
            revenue += sale.total
            for category_id, quantity, line_total in sale.lines:
                units += quantity
                by_category[category_id] += line_total
        top = max(
            by_category,
            key=lambda category_id: (by_category[category_id], -category_id),
            default=None,
        )
        snapshots.append(
            DailySalesSnapshot(
                id=world.next_id(DailySalesSnapshot),
                day=day,
                orders_count=orders,
                revenue=money(revenue),
                units_sold=units,
                top_category_id=top,
            )
        )
        runs.append(
            ReportRun(
                id=world.next_id(ReportRun),
                kind="daily_sales_snapshot",
                params={"day": day.isoformat()},
                started_at=taken,
                finished_at=taken + timedelta(milliseconds=world.rng.randint(80, 900)),
                row_count=len(by_category),
            )
        )
        day += timedelta(days=1)
    out.write(DailySalesSnapshot, snapshots)
    out.write(ReportRun, runs)
