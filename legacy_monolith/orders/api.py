from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from legacy_monolith.cart.selectors import open_cart
from legacy_monolith.core.utils import api_login_required, json_error, page_bounds, read_json
from legacy_monolith.orders.checkout import CheckoutError, CheckoutRequest, place_order
from legacy_monolith.orders.models import Order


def order_json(order: Order, detail: bool = False) -> dict:
    data = {
        "number": order.number,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "subtotal": str(order.subtotal),
        "discount": str(order.discount),
        "shipping_cost": str(order.shipping_cost),
        "total": str(order.total),
    }
    if detail:
        data["lines"] = [
            {
                "sku": line.sku,
                "product": line.product_name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in order.lines.all()
        ]
        data["shipments"] = [
            {
                "tracking_number": s.tracking_number,
                "status": s.status,
                "carrier": s.method.carrier.name,
            }
            for s in order.shipments.all()
        ]
    return data


@csrf_exempt  # token-less legacy API
@require_POST
@api_login_required
def checkout(request):
    try:
        data = read_json(request)
        req = CheckoutRequest(
            cart=open_cart(request),
            address_id=int(data["address_id"]),
            shipping_method_id=int(data["shipping_method_id"]),
            card_token=str(data["card_token"]),
        )
    except KeyError as exc:
        return json_error(f"{exc.args[0]} is required")
    except (TypeError, ValueError) as exc:
        return json_error(str(exc))
    try:
        order = place_order(req)
    except CheckoutError as exc:
        status = 409 if "out of stock" in str(exc) else 402 if "payment failed" in str(exc) else 400
        return json_error(str(exc), status=status)
    order = Order.objects.prefetch_related("lines", "shipments__method__carrier").get(pk=order.pk)
    return JsonResponse(order_json(order, detail=True), status=201)


@require_GET
@api_login_required
def order_list(request):
    orders = Order.objects.filter(customer__email=request.user.email).order_by("-placed_at")
    if status := request.GET.get("status"):
        orders = orders.filter(status=status)
    offset, limit = page_bounds(request, default_limit=20)
    return JsonResponse(
        {
            "count": orders.count(),
            "results": [order_json(o) for o in orders[offset : offset + limit]],
        }
    )


@require_GET
@api_login_required
def order_detail(request, number):
    order = (
        Order.objects.filter(number=number, customer=request.user)
        .prefetch_related("lines", "shipments__method__carrier")
        .first()
    )
    if order is None:
        return json_error(f"no order {number!r}", status=404)
    return JsonResponse(order_json(order, detail=True))
