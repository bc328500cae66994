from django.contrib import admin

from legacy_monolith.orders.models import (
    ArchivedOrder,
    Order,
    OrderLine,
    OrderStatusEvent,
    ReturnRequest,
)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("variant",)


class StatusEventInline(admin.TabularInline):
    model = OrderStatusEvent
    extra = 0
    fk_name = "order"


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "customer", "status", "total", "placed_at")
    list_filter = ("status", "shipping_method")
    search_fields = ("number", "customer__email")
    raw_id_fields = ("customer", "shipping_address", "coupon")
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, StatusEventInline]


@admin.register(ArchivedOrder)
class ArchivedOrderAdmin(OrderAdmin):
    inlines = [OrderLineInline]


admin.site.register(ReturnRequest, list_display=("line", "quantity", "status", "created_at"), list_filter=("status",))
