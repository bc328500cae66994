from decimal import Decimal, InvalidOperation

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.core.utils import json_error
from legacy_monolith.shipping.models import Shipment, ShippingMethod
from legacy_monolith.shipping.rates import quote


@require_GET
def method_list(request):
    methods = ShippingMethod.objects.filter(is_active=True).select_related("carrier").order_by("price")
    return JsonResponse({"results": [
        {"id": m.pk, "code": m.code, "name": str(m), "price": str(m.price), "eta_days": m.eta_days} for m in methods
    ]})


@require_GET
def shipping_quote(request):
    method = ShippingMethod.objects.filter(code=request.GET.get("method", ""), is_active=True).first()
    if method is None:
        return json_error("unknown or inactive shipping method; see /api/shipping/methods/", status=404)
    try:
        subtotal = Decimal(request.GET.get("subtotal", "0"))
        weight = int(request.GET.get("weight", "0"))
    except (InvalidOperation, ValueError):
        return json_error("subtotal must be a decimal and weight an integer (grams)")
    return JsonResponse({"method": method.code, "price": str(quote(method, subtotal, weight))})


@require_GET
def shipment_detail(request, tracking_number):
    shipment = (
        Shipment.objects.filter(tracking_number=tracking_number).select_related("method__carrier")
        .prefetch_related("tracking_events").first()
    )
    if shipment is None:
        return json_error(f"no shipment {tracking_number!r}", status=404)
    return JsonResponse({
        "tracking_number": shipment.tracking_number, "status": shipment.status,
        "carrier": shipment.method.carrier.name,
        "events": [{"status": e.status, "location": e.location, "at": e.created_at.isoformat()}
                   for e in shipment.tracking_events.order_by("created_at")],
    })
