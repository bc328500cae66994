"""Checkout as a saga, for when payments is a service of its own and one transaction.atomic can no
longer hold orders, stock, payments, coupons and loyalty together (docs/saga.md).

    create_order   pending order, its lines, one use of the coupon   undo: cancel it, give the use back
    reserve_stock  stock reserved (not yet sold) for every line       undo: release it
    authorise      the payments service authorises the total         undo: void (or refund) it
    capture        ... and captures it                               undo: refund it
    confirm        the order paid, stock sold, coupon redeemed,     (the end: nothing after it fails)
                   loyalty points, invoice, cart emptied

Until confirm the order is `pending` and shows so (a semantic lock): it is never shown as paid
before its payment is captured. The saga's state is in seam_saga (extracted.seam.saga), so a
killed process's checkout is resumed by `manage.py saga resume` or the Celery task.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from extracted.seam import saga
from extracted.seam.saga import Context, Saga, Step, StepFailed
from legacy_monolith.accounts.models import Address
from legacy_monolith.cart.models import Cart
from legacy_monolith.core.utils import audit, generate_number, money
from legacy_monolith.inventory.models import StockItem, StockMovement
from legacy_monolith.inventory.signals import low_stock
from legacy_monolith.orders.checkout import CheckoutError, priced
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent
from legacy_monolith.orders.services import change_status
from legacy_monolith.orders.signals import order_placed
from legacy_monolith.payments import client as payments
from legacy_monolith.payments.models import Invoice, Payment
from legacy_monolith.payments.signals import payment_captured
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from legacy_monolith.shipping.models import ShippingMethod

PATH = "legacy_monolith.orders.checkout_saga.CHECKOUT"


# 1. create the order (pending), taking one use of the coupon


def create_order(ctx: Context) -> dict[str, Any]:
    cart = Cart.objects.select_related("user").get(pk=ctx.data["cart_id"])
    items = list(cart.items.select_related("variant__product").order_by("id"))
    if not items:
        raise StepFailed("your cart is empty")
    address = Address.objects.get(pk=ctx.data["address_id"])
    method = ShippingMethod.objects.get(pk=ctx.data["shipping_method_id"])
    try:
        coupon, subtotal, discount, shipping_cost = priced(cart, items, method)
    except CheckoutError as exc:
        raise StepFailed(str(exc)) from exc
    if coupon is not None:
        Coupon.objects.filter(pk=coupon.pk).update(used_count=F("used_count") + 1)
    order = Order.objects.create(
        number=generate_number("ORD"), customer=cart.user, shipping_address=address,
        shipping_method=method, coupon=coupon, subtotal=subtotal, discount=discount,
        shipping_cost=shipping_cost, total=money(subtotal - discount + shipping_cost),
        placed_at=timezone.now(),
    )  # fmt: skip
    for item in items:
        OrderLine.objects.create(
            order=order, variant=item.variant, product_name=item.variant.product.name,
            sku=item.variant.sku, quantity=item.quantity, unit_price=item.variant.price,
            line_total=money(item.variant.price * item.quantity),
        )  # fmt: skip
    OrderStatusEvent.objects.create(order=order, to_status=Order.Status.PENDING,
                                    note="placed, awaiting payment", created_by=cart.user)  # fmt: skip
    return {
        "order_id": order.pk, "order_number": order.number, "total": str(order.total),
        "coupon_taken": coupon.pk if coupon else None, "discount": str(discount),
        "lines": [[item.variant_id, item.quantity] for item in items],
    }  # fmt: skip


def cancel_order(ctx: Context) -> None:
    order = Order.objects.select_for_update().filter(pk=ctx.data.get("order_id")).first()
    if order is None:
        return  # the step never committed: nothing to cancel
    if order.status == Order.Status.PENDING:
        change_status(order, str(Order.Status.CANCELLED), note="checkout undone by its saga")
    if ctx.data.get("coupon_taken"):
        Coupon.objects.filter(pk=ctx.data["coupon_taken"], used_count__gt=0).update(used_count=F("used_count") - 1)


# 2. reserve stock


def reserve_stock(ctx: Context) -> dict[str, Any]:
    reservations = []
    for variant_id, quantity in ctx.data["lines"]:
        # The reservation is one conditional UPDATE: two checkouts can never both take the last
        # unit, on PostgreSQL or SQLite, without a lock held across the saga.
        candidates = StockItem.objects.filter(
            variant_id=variant_id, warehouse__is_active=True,
            quantity__gte=F("reserved") + quantity,
        ).order_by("-quantity").values_list("pk", flat=True)  # fmt: skip
        for stock_id in candidates:
            taken = StockItem.objects.filter(
                pk=stock_id, quantity__gte=F("reserved") + quantity
            ).update(reserved=F("reserved") + quantity)
            if taken:
                reservations.append([stock_id, quantity])
                break
        else:
            from legacy_monolith.catalog.models import ProductVariant

            variant = ProductVariant.objects.filter(pk=variant_id).first()
            raise StepFailed(f"{variant or 'an item'} is out of stock")
    return {"reservations": reservations}


def release_stock(ctx: Context) -> None:
    for stock_id, quantity in ctx.data.get("reservations", []):
        StockItem.objects.filter(pk=stock_id).update(reserved=F("reserved") - quantity)


# 3. authorise and 4. capture, in the payments service


def authorise(ctx: Context) -> dict[str, Any]:
    try:
        payment = payments.authorise(
            order_ref=ctx.data["order_number"], amount=Decimal(ctx.data["total"]),
            card_token=ctx.data["card_token"], key=ctx.key("authorise"),
        )  # fmt: skip
    except payments.PaymentRefused as exc:
        raise StepFailed(f"payment failed: {exc}") from exc
    return {"payment_id": str(payment["id"])}


def capture(ctx: Context) -> dict[str, Any]:
    try:
        payment = payments.capture(ctx.data["payment_id"], key=ctx.key("capture"))
    except payments.PaymentRefused as exc:
        raise StepFailed(f"payment failed: {exc}") from exc
    return {"captured": str(payment.get("captured_amount") or ctx.data["total"])}


def undo_payment(ctx: Context) -> None:
    """Whatever the payments service holds for this order, leave nothing charged: void what is
    authorised, refund what is captured. It looks the payment up by the order's number, so it
    also undoes an authorisation whose reply never arrived."""
    if "order_number" not in ctx.data:
        return
    for payment in payments.find(ctx.data["order_number"]):
        status = payment.get("status")
        if status == "authorised":
            payments.void(str(payment["id"]), key=ctx.key("void"))
        elif status in {"captured", "partially_refunded"}:
            payments.refund(str(payment["id"]), key=ctx.key("refund"))


# 5. confirm


def confirm(ctx: Context) -> dict[str, Any]:
    order = Order.objects.select_for_update().get(pk=ctx.data["order_id"])
    now = timezone.now()
    touched = []
    for stock_id, quantity in ctx.data["reservations"]:
        StockItem.objects.filter(pk=stock_id).update(
            quantity=F("quantity") - quantity, reserved=F("reserved") - quantity
        )
        StockMovement.objects.create(stock_item_id=stock_id, delta=-quantity, reason="sale", order=order)
        touched.append(stock_id)
    if ctx.data.get("coupon_taken"):
        CouponRedemption.objects.create(coupon_id=ctx.data["coupon_taken"], order=order,
                                        user=order.customer, amount=Decimal(ctx.data["discount"]))  # fmt: skip
    payment = Payment.objects.create(
        order=order, provider="payments-service", reference=ctx.data["payment_id"],
        amount=order.total, status=Payment.Status.CAPTURED, captured_at=now,
    )  # fmt: skip
    Invoice.objects.create(order=order, number=generate_number("INV"), total=order.total, issued_at=now)
    cart = Cart.objects.get(pk=ctx.data["cart_id"])
    cart.items.all().delete()
    Cart.objects.filter(pk=cart.pk).update(checked_out_at=now, coupon=None)
    audit(order.customer, "order.placed", order)
    # The receivers mark the order paid and add the loyalty points, as on the atomic path.
    payment_captured.send(sender=Payment, payment=payment)
    order_placed.send(sender=Order, order=order)
    for stock in StockItem.objects.filter(pk__in=touched):
        if stock.available <= settings.SHOP_LOW_STOCK_THRESHOLD:
            low_stock.send(sender=StockItem, stock_item=stock)
    return {}


CHECKOUT = Saga(
    "checkout",
    [
        Step("create_order", create_order, compensation=cancel_order),
        Step("reserve_stock", reserve_stock, compensation=release_stock),
        Step("authorise", authorise, compensation=undo_payment, local=False,
             timeout_s=settings.CHECKOUT_PAYMENT_STEP_TIMEOUT_S),  # fmt: skip
        Step("capture", capture, compensation=undo_payment, local=False,
             timeout_s=settings.CHECKOUT_PAYMENT_STEP_TIMEOUT_S),  # fmt: skip
        Step("confirm", confirm),
    ],
)


def run_checkout(cart: Cart, address_id: int, shipping_method_id: int, card_token: str) -> saga.SagaRun:
    """Start the checkout saga for a validated cart and drive it for up to CHECKOUT_SAGA_WAIT_S:
    a checkout that needs longer (a slow payments service) goes on in the background."""
    run = saga.start(PATH, {
        "cart_id": cart.pk, "address_id": address_id, "shipping_method_id": shipping_method_id,
        "card_token": card_token,
    })  # fmt: skip
    return saga.drive(run.id, budget_s=settings.CHECKOUT_SAGA_WAIT_S)
