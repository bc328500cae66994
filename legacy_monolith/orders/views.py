from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from legacy_monolith.cart.selectors import cart_json, open_cart
from legacy_monolith.core.utils import audit, paginate
from legacy_monolith.orders.api import detail_lines, order_catalog, order_detail_reads
from legacy_monolith.orders.checkout import CheckoutError, CheckoutRequest, place_order
from legacy_monolith.orders.models import Order, OrderLine, ReturnRequest
from legacy_monolith.orders.services import InvalidTransition, change_status
from legacy_monolith.shipping.models import ShippingMethod


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request):
    cart = open_cart(request)
    if request.method == "POST":
        try:
            order = place_order(
                CheckoutRequest(
                    cart=cart,
                    address_id=int(request.POST.get("address_id") or 0),
                    shipping_method_id=int(request.POST.get("shipping_method_id") or 0),
                    card_token=request.POST.get("card_token", ""),
                )
            )
        except (CheckoutError, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Thank you! Order {order.number} is placed.")
            return redirect(order)
    return render(
        request,
        "orders/checkout.html",
        {
            "cart": cart_json(cart),
            "addresses": request.user.addresses.all(),
            "methods": ShippingMethod.objects.filter(is_active=True).select_related("carrier"),
        },
    )


@login_required
def order_list(request):
    orders = Order.objects.filter(customer=request.user).select_related("shipping_method__carrier")
    return render(
        request, "orders/order_list.html", {"page": paginate(orders, request, per_page=20)}
    )


@login_required
def order_detail(request, number):
    reads = order_detail_reads()
    order = get_object_or_404(
        Order.objects.select_related(
            "shipping_address", "shipping_method__carrier", "coupon"
        ).prefetch_related(detail_lines(reads), "shipments__method__carrier", "events"),
        number=number,
        customer=request.user,
    )
    catalog = order_catalog(order, reads)
    rows = [{"line": line, "catalog": catalog.of(line)} for line in order.lines.all()]
    return render(
        request, "orders/order_detail.html", {"order": order, "rows": rows, "catalog": catalog}
    )


@login_required
@require_POST
def cancel_order(request, number):
    order = get_object_or_404(Order, number=number, customer=request.user)
    try:
        change_status(order, Order.Status.CANCELLED, note="cancelled by customer", by=request.user)
    except InvalidTransition:
        messages.error(request, "This order can no longer be cancelled.")
    return redirect(order)


@login_required
@require_POST
def request_return(request, number):
    line = get_object_or_404(
        OrderLine,
        pk=request.POST.get("line_id") or 0,
        order__number=number,
        order__customer=request.user,
        order__status=Order.Status.DELIVERED,
    )
    ReturnRequest.objects.create(
        line=line, quantity=line.quantity, reason=request.POST.get("reason", "")[:2000]
    )
    messages.success(request, "We received your return request.")
    return redirect("orders:detail", number=number)


@staff_member_required
@require_POST
def staff_set_status(request, number):
    order = get_object_or_404(Order, number=number)
    try:
        change_status(
            order,
            request.POST.get("status", ""),
            note=request.POST.get("note", ""),
            by=request.user,
        )
        audit(request.user, "order.status", order, request.POST.get("status", ""))
    except (InvalidTransition, KeyError):
        messages.error(request, f"Cannot move {order.number} to {request.POST.get('status')!r}.")
    return redirect("admin:orders_order_change", order.pk)
