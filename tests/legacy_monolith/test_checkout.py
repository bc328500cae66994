"""place_order and the order state machine: what one checkout writes across the apps, and what a
failed one leaves behind (nothing: it all happens in one transaction.atomic)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.accounts.models import Address, CustomerProfile, User
from legacy_monolith.cart.models import Cart
from legacy_monolith.core.models import AuditEntry
from legacy_monolith.inventory.models import StockItem, StockMovement
from legacy_monolith.notifications.models import Notification
from legacy_monolith.orders.checkout import CheckoutError, CheckoutRequest, place_order
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent
from legacy_monolith.orders.services import InvalidTransition, change_status
from legacy_monolith.payments.models import Invoice, Payment
from legacy_monolith.promotions.models import Coupon, CouponRedemption

STAFF_EMAILS = ["stock@example.com", "ops@example.com"]


def checkout(shop, cart: Cart, card: str = "tok_visa", address: Address | None = None) -> Order:
    return place_order(
        CheckoutRequest(
            cart=cart,
            address_id=(address or shop.address).pk,
            shipping_method_id=shop.standard.pk,
            card_token=card,
        )
    )


def footprint(shop) -> dict[str, object]:
    """Everything a checkout may write, so a failed one can be shown to have written none of it."""
    profile = CustomerProfile.objects.get(user=shop.customer)
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "events": OrderStatusEvent.objects.count(),
        "movements": StockMovement.objects.count(),
        "payments": Payment.objects.count(),
        "invoices": Invoice.objects.count(),
        "redemptions": CouponRedemption.objects.count(),
        "notifications": Notification.objects.count(),
        "audit": AuditEntry.objects.count(),
        "stock": sorted(StockItem.objects.values_list("variant__sku", "quantity")),
        "coupon_uses": Coupon.objects.get(pk=shop.coupon.pk).used_count,
        "profile": (profile.loyalty_points, profile.lifetime_value),
    }


@pytest.fixture
def eager_tasks(settings):
    """Run Celery tasks in-process, raising their errors, so on_commit -> .delay() sends the mail."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    settings.SHOP_STAFF_EMAILS = STAFF_EMAILS


def test_place_order_writes_order_stock_payment_invoice_coupon_and_marks_it_paid(
    shop, eager_tasks, django_capture_on_commit_callbacks, mailoutbox
):
    cart = shop.cart_with((shop.kettle, 1), (shop.novel, 2), coupon=shop.coupon)

    with django_capture_on_commit_callbacks(execute=True):
        order = checkout(shop, cart)

    # 40.00 + 2 x 12.50 = 65.00; SPRING10 takes 10 %; 58.50 is under the free-shipping line and
    # 2 kg under the weight surcharge, so shipping is the method's 4.90.
    assert (order.subtotal, order.discount, order.shipping_cost, order.total) == (
        Decimal("65.00"),
        Decimal("6.50"),
        Decimal("4.90"),
        Decimal("63.40"),
    )
    assert order.customer == shop.customer
    assert order.shipping_address == shop.address
    assert order.shipping_method == shop.standard
    assert order.coupon == shop.coupon
    assert order.number.startswith("ORD-")
    assert sorted(
        order.lines.values_list("sku", "product_name", "quantity", "unit_price", "line_total")
    ) == [
        ("BK-DE-1", "The Difference Engine", 2, Decimal("12.50"), Decimal("25.00")),
        ("KET-CU-1", "Copper Kettle", 1, Decimal("40.00"), Decimal("40.00")),
    ]

    assert shop.stock_of(shop.kettle) == 9
    assert shop.stock_of(shop.novel) == 1
    assert sorted(
        StockMovement.objects.filter(order=order).values_list(
            "stock_item__variant__sku", "delta", "reason"
        )
    ) == [
        ("BK-DE-1", -2, "sale"),
        ("KET-CU-1", -1, "sale"),
    ]

    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.CAPTURED
    assert payment.amount == Decimal("63.40")
    assert payment.reference.startswith("PAY-")
    assert payment.captured_at is not None
    invoice = Invoice.objects.get(order=order)
    assert invoice.total == Decimal("63.40")
    assert invoice.number.startswith("INV-")

    redemption = CouponRedemption.objects.get(order=order)
    assert (redemption.coupon, redemption.user, redemption.amount) == (
        shop.coupon,
        shop.customer,
        Decimal("6.50"),
    )
    assert Coupon.objects.get(pk=shop.coupon.pk).used_count == 1

    cart.refresh_from_db()
    assert not cart.items.exists()
    assert cart.checked_out_at is not None
    assert cart.coupon is None

    # The payments.payment_captured receiver in orders moved it on.
    assert order.status == Order.Status.PAID
    assert list(order.events.order_by("pk").values_list("from_status", "to_status")) == [
        ("", "pending"),
        ("pending", "paid"),
    ]
    assert order.events.get(to_status="paid").note == f"payment {payment.reference} captured"

    profile = CustomerProfile.objects.get(user=shop.customer)
    assert profile.lifetime_value == Decimal("63.40")
    assert profile.loyalty_points == 63

    entry = AuditEntry.objects.get(action="order.placed")
    assert (entry.actor, entry.target) == (shop.customer, order)

    confirmation = Notification.objects.get(template__key="order-confirmation")
    assert confirmation.user == shop.customer
    assert confirmation.to_email == "ada@example.com"
    assert confirmation.payload == {"order": order.number, "total": "63.40"}
    # send_notification ran on commit and really sent the mail.
    assert confirmation.status == Notification.Status.SENT
    assert confirmation.sent_at is not None
    mail = [m for m in mailoutbox if m.to == ["ada@example.com"]]
    assert len(mail) == 1
    assert mail[0].subject == f"Your order {order.number}"
    assert mail[0].body == "Thank you! Total 63.40."


def test_declined_card_rolls_back_everything(shop):
    cart = shop.cart_with((shop.kettle, 2), (shop.novel, 1), coupon=shop.coupon)
    before = footprint(shop)

    with pytest.raises(CheckoutError, match="payment failed: card declined by issuer"):
        checkout(shop, cart, card="tok_declined")

    # The stock, the lines, the coupon use and the redemption were written before the charge;
    # the atomic block took them all back.
    assert footprint(shop) == before
    assert before["orders"] == 0
    assert shop.stock_of(shop.kettle) == 10
    assert shop.stock_of(shop.novel) == 3
    assert Coupon.objects.get(pk=shop.coupon.pk).used_count == 0
    cart.refresh_from_db()
    assert cart.items.count() == 2
    assert cart.checked_out_at is None
    assert cart.coupon == shop.coupon


def test_out_of_stock_line_rolls_back_the_lines_before_it(shop):
    # The kettle line is in stock and comes first, so its stock is taken before the novel fails.
    cart = shop.cart_with((shop.kettle, 1), (shop.novel, 4), coupon=shop.coupon)
    before = footprint(shop)

    with pytest.raises(CheckoutError, match="out of stock"):
        checkout(shop, cart)

    assert footprint(shop) == before
    assert shop.stock_of(shop.kettle) == 10
    assert Order.objects.count() == 0
    assert cart.items.count() == 2


def test_reserved_units_are_not_for_sale(shop):
    StockItem.objects.filter(variant=shop.novel).update(reserved=2)
    cart = shop.cart_with((shop.novel, 2))

    with pytest.raises(CheckoutError, match="out of stock"):
        checkout(shop, cart)

    assert shop.stock_of(shop.novel) == 3


def test_empty_cart_is_refused(shop):
    cart = shop.cart_with()

    with pytest.raises(CheckoutError, match="your cart is empty"):
        checkout(shop, cart)

    assert Order.objects.count() == 0


def test_anonymous_cart_is_refused(shop):
    cart = Cart.objects.create(session_key="anon")
    cart.items.create(variant=shop.kettle, quantity=1)

    with pytest.raises(CheckoutError, match="log in"):
        checkout(shop, cart)

    assert Order.objects.count() == 0


def test_address_of_another_user_is_refused(shop):
    other = User.objects.create_user("eve", email="eve@example.com", password="correct-horse-3")
    elsewhere = Address.objects.create(
        user=other, full_name="Eve", line1="2 Side St", city="Bonn", postcode="53111"
    )
    cart = shop.cart_with((shop.kettle, 1))
    before = footprint(shop)

    with pytest.raises(CheckoutError, match="choose one of your addresses"):
        checkout(shop, cart, address=elsewhere)

    assert footprint(shop) == before


def test_used_up_coupon_is_refused_at_checkout(shop):
    cart = shop.cart_with((shop.kettle, 1), coupon=shop.coupon)
    Coupon.objects.filter(pk=shop.coupon.pk).update(used_count=shop.coupon.max_uses)
    before = footprint(shop)

    with pytest.raises(CheckoutError, match="has been used up"):
        checkout(shop, cart)

    assert footprint(shop) == before


def test_shipping_is_free_over_the_threshold(shop, settings):
    assert settings.SHOP_FREE_SHIPPING_OVER == "75.00"
    order = checkout(shop, shop.cart_with((shop.kettle, 2)))

    assert (order.subtotal, order.shipping_cost, order.total) == (
        Decimal("80.00"),
        Decimal("0.00"),
        Decimal("80.00"),
    )


def test_free_shipping_threshold_applies_after_the_coupon(shop):
    # 80.00 - 10 % = 72.00, under 75.00: shipping is charged again.
    order = checkout(shop, shop.cart_with((shop.kettle, 2), coupon=shop.coupon))

    assert (order.subtotal, order.discount, order.shipping_cost, order.total) == (
        Decimal("80.00"),
        Decimal("8.00"),
        Decimal("4.90"),
        Decimal("76.90"),
    )


def test_low_stock_signal_queues_and_sends_a_notification_to_staff(
    shop, eager_tasks, django_capture_on_commit_callbacks, mailoutbox
):
    # 10 - 5 leaves 5 kettles: exactly the threshold.
    with django_capture_on_commit_callbacks(execute=True):
        checkout(shop, shop.cart_with((shop.kettle, 5)))

    alerts = Notification.objects.filter(template__isnull=True, user__isnull=True).order_by(
        "to_email"
    )
    assert [n.to_email for n in alerts] == sorted(STAFF_EMAILS)
    assert {tuple(sorted(n.payload.items())) for n in alerts} == {
        (("available", 5), ("sku", "KET-CU-1"), ("warehouse", "BER")),
    }
    assert {n.status for n in alerts} == {Notification.Status.SENT}
    staff_mail = [m for m in mailoutbox if m.to[0] in STAFF_EMAILS]
    assert sorted(m.to[0] for m in staff_mail) == sorted(STAFF_EMAILS)
    assert "sku: KET-CU-1" in staff_mail[0].body


def test_low_stock_signal_stays_quiet_above_the_threshold(
    shop, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        checkout(shop, shop.cart_with((shop.kettle, 4)))

    assert shop.stock_of(shop.kettle) == 6
    assert not Notification.objects.filter(to_email__in=STAFF_EMAILS).exists()


def test_cancelling_a_paid_order_puts_the_stock_back(
    shop, eager_tasks, django_capture_on_commit_callbacks, mailoutbox
):
    order = checkout(shop, shop.cart_with((shop.kettle, 2), (shop.novel, 1)))
    assert (shop.stock_of(shop.kettle), shop.stock_of(shop.novel)) == (8, 2)

    with django_capture_on_commit_callbacks(execute=True):
        change_status(order, Order.Status.CANCELLED, note="customer asked", by=shop.staff)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert (shop.stock_of(shop.kettle), shop.stock_of(shop.novel)) == (10, 3)
    returns = StockMovement.objects.filter(order=order, reason="return")
    assert sorted(returns.values_list("stock_item__variant__sku", "delta", "note")) == [
        ("BK-DE-1", 1, "order cancelled"),
        ("KET-CU-1", 2, "order cancelled"),
    ]
    event = order.events.get(to_status="cancelled")
    assert (event.from_status, event.note, event.created_by) == (
        "paid",
        "customer asked",
        shop.staff,
    )
    cancelled_mail = Notification.objects.get(
        to_email="ada@example.com", payload__status="cancelled"
    )
    assert cancelled_mail.status == Notification.Status.SENT
    assert any(order.number in m.body for m in mailoutbox if m.to == ["ada@example.com"])


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["cancelled"], "paid"),
        (["shipped"], "cancelled"),
        (["shipped", "delivered"], "shipped"),
        (["refunded"], "paid"),
    ],
    ids=["cancelled-to-paid", "shipped-to-cancelled", "delivered-to-shipped", "refunded-to-paid"],
)
def test_invalid_status_transitions_raise_and_write_nothing(shop, path, refused):
    order = checkout(shop, shop.cart_with((shop.kettle, 1)))
    for status in path:
        change_status(order, status)
    events = order.events.count()

    with pytest.raises(InvalidTransition, match=f"from {path[-1]} to {refused}"):
        change_status(order, refused)

    order.refresh_from_db()
    assert order.status == path[-1]
    assert order.events.count() == events


def test_pending_order_cannot_skip_payment(shop):
    order = Order.objects.create(
        number="ORD-MANUAL-1", customer=shop.customer, placed_at=timezone.now()
    )

    with pytest.raises(InvalidTransition):
        change_status(order, Order.Status.SHIPPED)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
