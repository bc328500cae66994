"""Orders as checkout makes them: who buys what, when, with which coupon and shipping method,
the order and its lines, the coupon redemption, the cart it came from and the audit entry;
`fulfilment` writes down what happened to each order afterwards.

Orders are replayed in the order they were placed (so ids and numbers follow time, and stock
is taken from the shelves in order), and written in chunks to keep memory flat. Money is worked
out with the shop's own functions: `promotions.pricing.discount_for`, `shipping.rates.quote`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType

from legacy_monolith.cart.models import Cart
from legacy_monolith.core.models import AuditEntry
from legacy_monolith.core.seeding.fulfilment import Fulfilment
from legacy_monolith.core.seeding.lifecycle import plan_life
from legacy_monolith.core.seeding.stock import StockLedger
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import Customer, Item, Method, Sale, World
from legacy_monolith.core.utils import money
from legacy_monolith.notifications.models import Notification
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent, ReturnRequest
from legacy_monolith.payments.models import Invoice, Payment, Refund
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from legacy_monolith.promotions.pricing import discount_for
from legacy_monolith.shipping.models import Shipment, TrackingEvent
from legacy_monolith.shipping.rates import quote

WINDOW_DAYS = 730
GROWTH, CHRISTMAS = 1.5, 1.4
CHUNK = 5_000
LINE_COUNTS, LINE_CUMULATIVE = (
    (1, 2, 3, 4, 5, 6, 7),
    tuple(itertools.accumulate((22, 22, 19, 15, 10, 7, 5))),
)
QUANTITIES, QUANTITY_CUMULATIVE = (1, 2, 3, 4), tuple(itertools.accumulate((72, 19, 6, 3)))
HOURS = tuple(range(24))  # when people shop: evenings, hardly at night
HOUR_CUMULATIVE = tuple(
    itertools.accumulate(
        (2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 11, 12, 11, 10, 10, 11, 13, 15, 17, 18, 16, 11, 6)
    )
)
COUPON_SHARE = 0.12
WRITE_ORDER = [
    Cart,
    Order,
    OrderLine,
    OrderStatusEvent,
    CouponRedemption,
    Payment,
    Invoice,
    ReturnRequest,
    Refund,
    Shipment,
    Shipment.lines.through,
    TrackingEvent,
    Notification,
    AuditEntry,
]


def placement_times(world: World) -> list[datetime]:
    """Two years of orders: the shop grew (the last day sells 2.5 times what the first did),
    November and December sell more, and people shop in the evening."""
    rng, now, times = world.rng, world.now, []
    ceiling = (1 + GROWTH) * CHRISTMAS
    while len(times) < world.size.orders:
        age = rng.uniform(0, WINDOW_DAYS)
        day = (now - timedelta(days=age)).date()
        weight = (1 + GROWTH * (1 - age / WINDOW_DAYS)) * (CHRISTMAS if day.month >= 11 else 1)
        if rng.random() * ceiling > weight:
            continue
        hour = rng.choices(HOURS, cum_weights=HOUR_CUMULATIVE)[0]
        at = datetime.combine(
            day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=now.tzinfo
        )
        if at < now:
            times.append(at)
    return sorted(times)


def build(world: World, out: RowWriter) -> None:
    builder = OrderBuilder(world)
    placed = placement_times(world)
    for start in range(0, len(placed), CHUNK):
        rows: dict = defaultdict(list)
        for at in placed[start : start + CHUNK]:
            builder.add(at, rows)
        for model in WRITE_ORDER:
            out.write(model, rows[model])
    out.update(Coupon, world.coupons, ["used_count"])


class OrderBuilder:
    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = world.rng
        self.ledger: StockLedger = world.ledger
        self.fulfilment = Fulfilment(world)
        self.order_type = ContentType.objects.get_for_model(Order).id
        self.uses: dict[int, int] = defaultdict(int)

    def add(self, placed: datetime, rows: dict) -> None:
        world, rng = self.world, self.rng
        oid = world.next_id(Order)
        customer: Customer = world.customer_pool.pick(rng, placed)
        addresses = customer.addresses
        address = (
            addresses[0] if len(addresses) == 1 or rng.random() < 0.75 else rng.choice(addresses)
        )
        items: list[Item] = world.item_pool.pick_distinct(
            rng, placed, rng.choices(LINE_COUNTS, cum_weights=LINE_CUMULATIVE)[0]
        )
        lines = []
        for item in items:
            quantity = (
                1 if item.digital else rng.choices(QUANTITIES, cum_weights=QUANTITY_CUMULATIVE)[0]
            )
            price = item.variant.price
            lines.append(
                OrderLine(
                    id=world.next_id(OrderLine),
                    order_id=oid,
                    variant_id=item.variant.id,
                    product_name=item.product.name,
                    sku=item.variant.sku,
                    quantity=quantity,
                    unit_price=price,
                    line_total=money(price * quantity),
                )
            )
        subtotal = money(sum(line.line_total for line in lines))
        weight = sum(
            item.variant.weight_grams * line.quantity
            for item, line in zip(items, lines, strict=True)
        )
        method = self._method(placed, weight)
        coupon, discount = self._coupon(placed, subtotal)
        shipping = quote(method.model, subtotal - discount, weight)
        digital_only = all(item.digital for item in items)
        life = plan_life(
            rng, placed, world.now, eta_days=method.model.eta_days, digital_only=digital_only
        )
        order = Order(
            id=oid,
            number=f"ORD-{placed:%Y%m%d}-{oid:06X}",
            customer_id=customer.user.id,
            shipping_address_id=address.id,
            shipping_method_id=method.model.id,
            coupon_id=coupon.id if coupon else None,
            status=life.status,
            subtotal=subtotal,
            discount=discount,
            shipping_cost=shipping,
            total=money(subtotal - discount + shipping),
            placed_at=placed,
            created_at=placed,
            updated_at=life.updated_at,
        )
        rows[Order].append(order)
        rows[OrderLine] += lines
        rows[Cart].append(
            Cart(
                id=world.next_id(Cart),
                user_id=customer.user.id,
                checked_out_at=placed,
                created_at=placed - timedelta(minutes=rng.randint(2, 240)),
                updated_at=placed,
            )
        )
        rows[AuditEntry].append(
            AuditEntry(
                actor_id=customer.user.id,
                action="order.placed",
                content_type_id=self.order_type,
                object_id=str(oid),
                created_at=placed,
                updated_at=placed,
            )
        )
        if coupon is not None:
            rows[CouponRedemption].append(
                CouponRedemption(
                    id=world.next_id(CouponRedemption),
                    coupon_id=coupon.id,
                    order_id=oid,
                    user_id=customer.user.id,
                    amount=discount,
                    redeemed_at=placed,
                )
            )

        sold = [
            (line, self.ledger.sell(line.variant_id, line.quantity, placed, oid)) for line in lines
        ]
        shelved = [(line, item) for line, item in sold if item is not None]
        payment = self.fulfilment.record(order, life, rows, customer, method, address, shelved)
        if life.delivered_at is not None:
            for item, line in zip(items, lines, strict=True):
                world.delivered_lines.append(
                    (customer.user.id, item.product.id, line.id, life.delivered_at)
                )
                world.bought.add((customer.user.id, item.product.id))
            if payment is not None and len(lines) > 1:
                self.fulfilment.maybe_return(order, life, rows, payment, shelved)
        world.sales.append(
            Sale(
                placed,
                order.total,
                life,
                [
                    (item.category_id, line.quantity, line.line_total)
                    for item, line in zip(items, lines, strict=True)
                ],
            )
        )

    def _method(self, placed: datetime, weight: int) -> Method:
        usable = [
            method
            for method in self.world.methods
            if (method.retired_at is None or placed < method.retired_at)
            and method.model.max_weight_grams >= weight
        ]
        if not usable:  # heavier than any method takes: the freight-capable one, as the shop did
            usable = [max(self.world.methods, key=lambda method: method.model.max_weight_grams)]
        return self.rng.choices(usable, [method.weight for method in usable])[0]

    def _coupon(self, placed: datetime, subtotal: Decimal) -> tuple[Coupon | None, Decimal]:
        """A coupon valid when the order was placed and not used up, as checkout checks it."""
        none = (None, Decimal("0.00"))
        if self.rng.random() >= COUPON_SHARE:
            return none
        usable = [
            coupon
            for coupon in self.world.coupons
            if coupon.promotion.starts_at <= placed <= coupon.promotion.ends_at
            and (not coupon.max_uses or self.uses[coupon.id] < coupon.max_uses)
        ]
        if not usable:
            return none
        coupon = self.rng.choice(usable)
        discount = discount_for(coupon, subtotal)
        if not discount:  # under the promotion's minimum: the customer took the coupon out again
            return none
        self.uses[coupon.id] += 1
        coupon.used_count += 1
        return coupon, discount
