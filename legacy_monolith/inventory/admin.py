from django.contrib import admin

from legacy_monolith.inventory.models import StockItem, StockMovement, Supplier, Warehouse

admin.site.register(Warehouse, list_display=("code", "name", "city", "is_active"))
admin.site.register(Supplier, list_display=("name", "warehouse", "last_synced_at"))
admin.site.register(StockItem, list_display=("variant", "warehouse", "quantity", "reserved"),
                    list_filter=("warehouse",), search_fields=("variant__sku",))
admin.site.register(StockMovement, list_display=("created_at", "stock_item", "delta", "reason", "order"),
                    list_filter=("reason",))
