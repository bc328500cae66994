from django.contrib import admin

from legacy_monolith.shipping.models import Carrier, Shipment, ShippingMethod, TrackingEvent


class TrackingInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("tracking_number", "order", "method", "status", "shipped_at")
    list_filter = ("status", "method")
    search_fields = ("tracking_number", "order__number")
    raw_id_fields = ("order", "address", "lines")
    inlines = [TrackingInline]


admin.site.register(Carrier)
admin.site.register(ShippingMethod, list_display=("code", "carrier", "name", "price", "eta_days", "is_active"))
