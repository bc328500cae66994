from django.http import JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.core.utils import api_staff_required, json_error
from legacy_monolith.inventory.models import StockItem


@require_GET
@api_staff_required
def stock_for_sku(request, sku):
    items = StockItem.objects.filter(variant__sku=sku).select_related("warehouse").order_by("warehouse__code")
    if not items:
        return json_error(f"no stock records for {sku!r}", status=404)
    return JsonResponse({"sku": sku, "warehouses": [
        {"warehouse": i.warehouse.code, "quantity": i.quantity, "reserved": i.reserved, "available": i.available}
        for i in items
    ]})
