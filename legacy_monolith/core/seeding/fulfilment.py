"""After checkout: an order's life (`lifecycle.Life`) written down as rows. The payment and
invoice, the status history, the shipment with its tracking events, the mails the receivers
queue, refunds, returns, and units going back on the shelf."""

from __future__ import annotations

from datetime import timedelta

from legacy_monolith.accounts.models import Address
from legacy_monolith.core.seeding.lifecycle import Life
from legacy_monolith.core.seeding.mail import notification
from legacy_monolith.core.seeding.stock import StockLedger
from legacy_monolith.core.seeding.world import Customer, Method, World
from legacy_monolith.core.utils import money
from legacy_monolith.inventory.models import StockItem
from legacy_monolith.notifications.models import Notification
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent, ReturnRequest
from legacy_monolith.payments.models import Invoice, Payment, Refund
from legacy_monolith.shipping.models import Shipment, TrackingEvent

RETURN_SHARE = 0.06  # of delivered orders with more than one line
RETURN_REASONS = [
    "Too small",
    "Too large",
    "Arrived damaged",
    "Not as described",
    "Changed my mind",
    "Wrong colour",
    "Ordered twice by mistake",
    "Better price elsewhere",
]
TRACKING = {"DHL": "00340434{:012d}", "DPD": "0{:013d}", "Hermes": "H{:019d}", "GLS": "{:011d}"}
HUBS = {
    "DHL": ["Leipzig hub", "Hanover hub", "Cologne hub"],
    "DPD": ["Aschaffenburg depot", "Kassel depot"],
    "Hermes": ["Haldensleben hub", "Ketzin hub"],
    "GLS": ["Neuenstein hub", "Bielefeld depot"],
}


class Fulfilment:
    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = world.rng
        self.ledger: StockLedger = world.ledger
        self.city_of = {warehouse.id: warehouse.city for warehouse in world.warehouses}

    def record(
        self,
        order: Order,
        life: Life,
        rows: dict,
        customer: Customer,
        method: Method,
        address: Address,
        shelved: list[tuple[OrderLine, StockItem]],
    ) -> Payment | None:
        """Everything that follows from the order's life; returns the payment that was taken."""
        payment = self._payment(order, life, rows, customer)
        self._history(order, life, rows, payment, method, digital_only=not shelved)
        self._shipment(order, life, rows, method, address, shelved)
        self._mails(order, life, rows, customer)
        self._restock(order, life, shelved)
        return payment

    def _payment(self, order: Order, life: Life, rows: dict, customer: Customer) -> Payment | None:
        world = self.world
        if life.declined_at is not None:
            pid = world.next_id(Payment)
            rows[Payment].append(
                Payment(
                    id=pid,
                    order_id=order.id,
                    reference=f"PAY-{life.declined_at:%Y%m%d}-{pid:06X}",
                    amount=order.total,
                    status=Payment.Status.DECLINED,
                    created_at=life.declined_at,
                    updated_at=life.declined_at,
                )
            )
            return None
        if life.paid_at is None:
            return None
        pid = world.next_id(Payment)
        created = life.paid_at if life.by_transfer else order.placed_at
        payment = Payment(
            id=pid,
            order_id=order.id,
            provider="banktransfer" if life.by_transfer else "fakecard",
            reference=f"PAY-{created:%Y%m%d}-{pid:06X}",
            amount=order.total,
            status=Payment.Status.REFUNDED if life.refunded_at else Payment.Status.CAPTURED,
            captured_at=life.paid_at,
            created_at=created,
            updated_at=life.refunded_at or life.paid_at,
        )
        rows[Payment].append(payment)
        iid = world.next_id(Invoice)
        rows[Invoice].append(
            Invoice(
                id=iid,
                order_id=order.id,
                number=f"INV-{life.paid_at:%Y%m%d}-{iid:06X}",
                total=order.total,
                issued_at=life.paid_at,
                created_at=life.paid_at,
                updated_at=life.paid_at,
            )
        )
        # What orders.receivers.mark_order_paid adds to the profile on every captured payment.
        customer.lifetime_value += order.total
        customer.loyalty_points += int(order.total)
        customer.last_paid_at = life.paid_at
        if life.refunded_at is not None:
            reason = (
                "parcel lost by carrier"
                if life.fate == "lost"
                else "withdrawn by customer before dispatch"
            )
            rows[Refund].append(
                Refund(
                    id=world.next_id(Refund),
                    payment_id=pid,
                    amount=order.total,
                    reason=reason,
                    created_at=life.refunded_at,
                    updated_at=life.refunded_at,
                )
            )
        return payment

    def _history(
        self,
        order: Order,
        life: Life,
        rows: dict,
        payment: Payment | None,
        method: Method,
        digital_only: bool,
    ) -> None:
        staff = self.world.staff_ids
        notes = {
            "pending": ("placed", order.customer_id),
            "paid": (f"payment {payment.reference} captured" if payment else "", None),
            "cancelled": (
                "payment declined"
                if life.fate == "declined"
                else "no payment received within 7 days",
                None,
            ),
            "shipped": ("download links sent", None)
            if digital_only
            else (f"handed to {method.carrier}", staff[0]),
            "delivered": ("downloaded", None)
            if digital_only
            else (f"delivered by {method.carrier}", None),
            "refunded": ("fully refunded", staff[-1]),
        }
        previous = ""
        for step in life.steps:
            note, by = notes[step.status]
            rows[OrderStatusEvent].append(
                OrderStatusEvent(
                    id=self.world.next_id(OrderStatusEvent),
                    order_id=order.id,
                    from_status=previous,
                    to_status=step.status,
                    note=note,
                    created_by_id=by,
                    created_at=step.at,
                    updated_at=step.at,
                )
            )
            previous = step.status

    def _shipment(
        self,
        order: Order,
        life: Life,
        rows: dict,
        method: Method,
        address: Address,
        shelved: list[tuple[OrderLine, StockItem]],
    ) -> None:
        if life.label_at is None or not shelved:
            return
        sid = self.world.next_id(Shipment)
        hub = self.rng.choice(HUBS[method.carrier])
        events = [
            ("in_transit", life.shipped_at, self.city_of[shelved[0][1].warehouse_id]),
            ("in_transit", life.hub_at, hub),
            ("delivered", life.delivered_at, address.city),
            ("lost", life.lost_at, hub),
        ]
        events = sorted(
            (event for event in events if event[1] is not None), key=lambda event: event[1]
        )
        rows[Shipment].append(
            Shipment(
                id=sid,
                order_id=order.id,
                method_id=method.model.id,
                address_id=address.id,
                tracking_number=TRACKING[method.carrier].format(sid),
                status=life.shipment_status,
                shipped_at=life.shipped_at,
                created_at=life.label_at,
                updated_at=events[-1][1] if events else life.label_at,
            )
        )
        rows[Shipment.lines.through] += [
            Shipment.lines.through(shipment_id=sid, orderline_id=line.id) for line, _ in shelved
        ]
        rows[TrackingEvent] += [
            TrackingEvent(
                shipment_id=sid, status=status, location=location, created_at=at, updated_at=at
            )
            for status, at, location in events
        ]

    def _mails(self, order: Order, life: Life, rows: dict, customer: Customer) -> None:
        """What notifications.receivers queue: a confirmation, then shipped/cancelled/refunded."""
        if not customer.wants_order_mail:
            return
        user = customer.user
        if life.fate != "declined":
            rows[Notification].append(
                notification(
                    self.world,
                    user.id,
                    user.email,
                    "order-confirmation",
                    order.placed_at,
                    {"order": order.number, "total": str(order.total)},
                )
            )
        for step in life.steps:
            if step.status in ("shipped", "cancelled", "refunded"):
                rows[Notification].append(
                    notification(
                        self.world,
                        user.id,
                        user.email,
                        f"order-{step.status}",
                        step.at,
                        {"order": order.number, "status": step.status},
                    )
                )

    def _restock(
        self, order: Order, life: Life, shelved: list[tuple[OrderLine, StockItem]]
    ) -> None:
        """Units of a cancelled order go back on the shelf (inventory.receivers); so do those of an
        order refunded before it was packed."""
        if life.cancelled_at is not None:
            at, note = life.cancelled_at, "order cancelled"
        elif life.fate == "withdrawn" and life.refunded_at is not None:
            at, note = life.refunded_at, "refunded before dispatch"
        else:
            return
        for line, item in shelved:
            self.ledger.schedule(at, item, line.quantity, "return", note, order.id)

    def maybe_return(
        self,
        order: Order,
        life: Life,
        rows: dict,
        payment: Payment,
        shelved: list[tuple[OrderLine, StockItem]],
    ) -> None:
        """A partial return: one line (of several) comes back, refunded pro rata to the discount,
        so the order stays delivered and its payment captured."""
        rng, now = self.rng, self.world.now
        if not shelved or rng.random() >= RETURN_SHARE:
            return
        line, item = rng.choice(shelved)
        opened = life.delivered_at + timedelta(days=rng.uniform(1, 20))
        if opened > now:
            return
        decided = opened + timedelta(days=rng.uniform(1, 4))
        if decided > now:
            status = ReturnRequest.Status.OPEN
        else:
            status = (
                ReturnRequest.Status.APPROVED
                if rng.random() < 0.75
                else ReturnRequest.Status.REJECTED
            )
        quantity = rng.randint(1, line.quantity)
        rid = self.world.next_id(ReturnRequest)
        rows[ReturnRequest].append(
            ReturnRequest(
                id=rid,
                line_id=line.id,
                quantity=quantity,
                status=status,
                reason=rng.choice(RETURN_REASONS),
                created_at=opened,
                updated_at=opened if status == ReturnRequest.Status.OPEN else decided,
            )
        )
        if status == ReturnRequest.Status.APPROVED:
            amount = money(
                line.unit_price * quantity * (order.subtotal - order.discount) / order.subtotal
            )
            rows[Refund].append(
                Refund(
                    id=self.world.next_id(Refund),
                    payment_id=payment.id,
                    amount=amount,
                    reason="return approved",
                    return_request_id=rid,
                    created_at=decided,
                    updated_at=decided,
                )
            )
            self.ledger.schedule(
                decided, item, quantity, "return", f"return request {rid}", order.id
            )
