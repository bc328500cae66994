"""Stock in the warehouses, kept as a ledger: every unit in or out is a movement, and each
item's quantity is the sum of its movements.

Orders are replayed in the order they were placed. A sale takes units from the warehouse with
the most on the shelf, as checkout does; when an item runs low a low-stock alert goes out and
the supplier's delivery arrives a few days later (or has not arrived yet, today).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from legacy_monolith.core.seeding.mail import notification
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import World
from legacy_monolith.inventory.models import StockItem, StockMovement, Warehouse
from legacy_monolith.notifications.models import Notification

STOCKTAKE_SHARE = 0.03


@dataclass(frozen=True)
class Alert:
    item: StockItem
    at: datetime
    available: int


class StockLedger:
    def __init__(self, rng: random.Random, supplier_names: dict[int, str], threshold: int) -> None:
        self.rng = rng
        self.supplier_names = supplier_names
        self.threshold = threshold
        self.items: list[StockItem] = []
        self.movements: list[StockMovement] = []
        self.alerts: list[Alert] = []
        self._of_variant: dict[int, list[StockItem]] = {}
        self._due: list[tuple[datetime, int, StockItem, int, str, str, int | None]] = []
        self._sequence = itertools.count()
        self._restocking: set[int] = set()

    def open(
        self, variant_id: int, warehouses: list[Warehouse], at: datetime, popular: bool
    ) -> None:
        for warehouse in warehouses:
            item = StockItem(
                id=len(self.items) + 1, variant_id=variant_id, warehouse_id=warehouse.id, quantity=0
            )
            self.items.append(item)
            self._of_variant.setdefault(variant_id, []).append(item)
            opening = (
                self.rng.randint(40, 250) if popular else self.rng.choice([3, 6, 10, 20, 30, 60])
            )
            self._move(item, opening, "restock", "opening stock", at)
            if self.rng.random() < STOCKTAKE_SHARE:
                self.schedule(
                    at + timedelta(days=self.rng.randint(60, 700)), item, 0, "adjust", "stocktake"
                )

    def sell(self, variant_id: int, quantity: int, at: datetime, order_id: int) -> StockItem | None:
        """Take units for an order; None for variants without stock (downloads)."""
        items = self._of_variant.get(variant_id)
        if not items:
            return None
        self._settle(at)
        item = max(items, key=lambda candidate: (candidate.quantity, -candidate.id))
        if item.quantity < quantity:
            # Sold out everywhere: the supplier's feed caught up just before this order.
            self._move(
                item,
                quantity + self.rng.randint(20, 80),
                "restock",
                self._feed(item),
                at - timedelta(hours=2),
            )
            self._restocking.discard(item.id)
        self._move(item, -quantity, "sale", "", at, order_id)
        if item.quantity <= self.threshold and item.id not in self._restocking:
            self.alerts.append(Alert(item, at, item.quantity))
            self._restocking.add(item.id)
            arrives = at + timedelta(days=self.rng.randint(2, 6), hours=self.rng.randint(0, 12))
            self.schedule(arrives, item, self.rng.randint(30, 150), "restock", self._feed(item))
        return item

    def schedule(
        self,
        at: datetime,
        item: StockItem,
        delta: int,
        reason: str,
        note: str,
        order_id: int | None = None,
    ) -> None:
        """A movement that happens later: a delivery, a return, a stocktake."""
        heapq.heappush(self._due, (at, next(self._sequence), item, delta, reason, note, order_id))

    def close(self, now: datetime) -> None:
        """Apply everything due by now; deliveries still on their way stay on their way."""
        self._settle(now)
        self._due.clear()
        for number, movement in enumerate(self.movements, 1):
            movement.id = number

    def _settle(self, until: datetime) -> None:
        while self._due and self._due[0][0] <= until:
            at, _, item, delta, reason, note, order_id = heapq.heappop(self._due)
            if reason == "adjust":
                delta = self.rng.choice([-2, -1, -1, 1]) if item.quantity >= 2 else 1
            if reason == "restock":
                self._restocking.discard(item.id)
            self._move(item, delta, reason, note, at, order_id)

    def _move(
        self,
        item: StockItem,
        delta: int,
        reason: str,
        note: str,
        at: datetime,
        order_id: int | None = None,
    ) -> None:
        item.quantity += delta
        self.movements.append(
            StockMovement(
                stock_item_id=item.id,
                delta=delta,
                reason=reason,
                order_id=order_id,
                note=note,
                created_at=at,
                updated_at=at,
            )
        )

    def _feed(self, item: StockItem) -> str:
        return f"feed {self.supplier_names[item.warehouse_id]}"


def write(world: World, out: RowWriter) -> None:
    """The ledger's final state: items, every movement, and the alerts sent to the stock team."""
    ledger: StockLedger = world.ledger
    ledger.close(world.now)
    out.write(StockItem, ledger.items)
    out.write(StockMovement, ledger.movements)
    sku = {item.variant.id: item.variant.sku for item in world.items}
    code = {warehouse.id: warehouse.code for warehouse in world.warehouses}
    out.write(
        Notification,
        [
            notification(
                world,
                None,
                email,
                "low-stock",
                alert.at,
                {
                    "sku": sku[alert.item.variant_id],
                    "warehouse": code[alert.item.warehouse_id],
                    "available": alert.available,
                },
            )
            for alert in ledger.alerts
            for email in settings.SHOP_STAFF_EMAILS
        ],
    )
