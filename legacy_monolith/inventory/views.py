from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from legacy_monolith.core.utils import paginate
from legacy_monolith.inventory.models import StockItem, Warehouse


@staff_member_required
def stock_overview(request):
    items = StockItem.objects.select_related("variant__product", "warehouse").order_by("quantity", "variant__sku")
    if code := request.GET.get("warehouse"):
        items = items.filter(warehouse__code=code)
    return render(request, "inventory/stock.html", {
        "page": paginate(items, request, per_page=50), "warehouses": Warehouse.objects.all(),
    })
