"""Checkout: the one place that writes orders, inventory, payments and promotions together.

Everything happens in a single transaction.atomic, so a declined card or missing stock leaves
no trace. This is the cross-service transaction a saga will have to replace.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from extracted.seam import saga, switches
from legacy_monolith.cart.models import Cart
from legacy_monolith.core.utils import audit, generate_number, money
from legacy_monolith.inventory.models import StockItem, StockMovement
from legacy_monolith.inventory.signals import low_stock
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent
from legacy_monolith.orders.signals import order_placed
from legacy_monolith.payments import gateway
from legacy_monolith.payments.models import Invoice, Payment
from legacy_monolith.payments.signals import payment_captured
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from legacy_monolith.promotions.pricing import CouponInvalid, discount_for, find_valid_coupon
from legacy_monolith.shipping.rates import quote


class CheckoutError(Exception):
    """A user-facing reason the order could not be placed."""


@dataclass(frozen=True)
class CheckoutRequest:
    cart: Cart
    address_id: int
    shipping_method_id: int
    card_token: str


def place_order(req: CheckoutRequest) -> Order:
    """The order placed: paid, or (saga, payments slow) pending while its saga goes on.
    CheckoutError says why not."""
    if switches.value("checkout", settings.CHECKOUT_MODE) == "saga":
        return _place_order_by_saga(req)
    return _place_order_atomically(req)


def _place_order_by_saga(req: CheckoutRequest) -> Order:
    from legacy_monolith.orders.checkout_saga import run_checkout

    cart, _items, address, method = _checked(req)
    run = run_checkout(cart, address.pk, method.pk, req.card_token)
    if run.status in (saga.COMPENSATED, saga.STUCK):
        step, _, said = (run.error or "checkout: failed").partition(": ")
        if "gave up after" in said:  # not a refusal: a step that did not answer in time
            said = (
                "payment failed: the payment could not be completed in time; nothing was charged, please try again"
                if step in {"authorise", "capture"}
                else "checkout could not be completed in time; please try again"
            )
        raise CheckoutError(said)  # "X is out of stock", "payment failed: card declined", ...
    if "order_id" not in run.data:  # still before its first step, in the background
        raise CheckoutError("your checkout is taking longer than usual; your orders will show it in a moment")
    return Order.objects.get(pk=run.data["order_id"])


def _checked(req: CheckoutRequest):
    """What both paths check before they write: a cart with items, an address, a method."""
    cart = req.cart
    user = cart.user
    if user is None:
        raise CheckoutError("log in to check out")
    items = list(cart.items.select_related("variant__product"))
    if not items:
        raise CheckoutError("your cart is empty")
    address = user.addresses.filter(pk=req.address_id).first()
    if address is None:
        raise CheckoutError("choose one of your addresses")
    from legacy_monolith.shipping.models import ShippingMethod

    method = ShippingMethod.objects.filter(pk=req.shipping_method_id, is_active=True).first()
    if method is None:
        raise CheckoutError("choose a shipping method")
    return cart, items, address, method


def priced(cart: Cart, items: list, method) -> tuple[Coupon | None, Decimal, Decimal, Decimal]:
    """The cart's coupon (locked, in the caller's transaction), subtotal, discount and shipping:
    what both checkouts charge. CheckoutError when the coupon is no longer valid."""
    subtotal = money(sum(i.variant.price * i.quantity for i in items))
    weight = sum(i.variant.weight_grams * i.quantity for i in items)
    coupon = Coupon.objects.select_for_update().select_related("promotion").filter(pk=cart.coupon_id).first()
    if coupon is not None:
        # Checked again under the lock: the coupon may have been used up or expired since it
        # went into the cart, and two checkouts must not both take its last use.
        try:
            find_valid_coupon(coupon.code)
        except CouponInvalid as exc:
            raise CheckoutError(f"{exc}; remove it from your cart") from exc
    discount = discount_for(coupon, subtotal)
    return coupon, subtotal, discount, quote(method, subtotal - discount, weight)


def _place_order_atomically(req: CheckoutRequest) -> Order:
    cart, items, address, method = _checked(req)
    user = cart.user
    with transaction.atomic():
        coupon, subtotal, discount, shipping_cost = priced(cart, items, method)
        order = Order.objects.create(
            number=generate_number("ORD"),
            customer=user,
            shipping_address=address,
            shipping_method=method,
            coupon=coupon,
            subtotal=subtotal,
            discount=discount,
            shipping_cost=shipping_cost,
            total=money(subtotal - discount + shipping_cost),
            placed_at=timezone.now(),
        )
        touched: list[StockItem] = []
        for item in items:
            stock = (
                StockItem.objects.select_for_update()
                .filter(variant=item.variant, warehouse__is_active=True, quantity__gte=F("reserved") + item.quantity)
                .order_by("-quantity")
                .first()
            )
            if stock is None:
                raise CheckoutError(f"{item.variant} is out of stock")
            StockItem.objects.filter(pk=stock.pk).update(quantity=F("quantity") - item.quantity)
            StockMovement.objects.create(stock_item=stock, delta=-item.quantity, reason="sale", order=order)
            OrderLine.objects.create(
                order=order,
                variant=item.variant,
                product_name=item.variant.product.name,
                sku=item.variant.sku,
                quantity=item.quantity,
                unit_price=item.variant.price,
                line_total=money(item.variant.price * item.quantity),
            )
            touched.append(stock)
        if coupon is not None:
            Coupon.objects.filter(pk=coupon.pk).update(used_count=F("used_count") + 1)
            CouponRedemption.objects.create(coupon=coupon, order=order, user=user, amount=discount)
        try:
            charge = gateway.charge(req.card_token, order.total)
        except gateway.PaymentDeclined as exc:
            raise CheckoutError(f"payment failed: {exc}") from exc
        payment = Payment.objects.create(
            order=order, reference=charge.reference, amount=charge.amount,
            status=Payment.Status.CAPTURED, captured_at=timezone.now(),
        )
        Invoice.objects.create(order=order, number=generate_number("INV"), total=order.total, issued_at=timezone.now())
        OrderStatusEvent.objects.create(order=order, to_status=Order.Status.PENDING, note="placed", created_by=user)
        cart.items.all().delete()
        Cart.objects.filter(pk=cart.pk).update(checked_out_at=timezone.now(), coupon=None)
        audit(user, "order.placed", order)
        payment_captured.send(sender=Payment, payment=payment)
        order_placed.send(sender=Order, order=order)

    for stock in touched:
        stock.refresh_from_db()
        if stock.available <= settings.SHOP_LOW_STOCK_THRESHOLD:
            low_stock.send(sender=StockItem, stock_item=stock)
    order.refresh_from_db()
    return order
