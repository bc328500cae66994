from django.db import models

from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.core.models import TimeStampedModel


class Warehouse(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    city = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.code


class Supplier(TimeStampedModel):
    name = models.CharField(max_length=100)
    # The supplier drops a CSV (sku,quantity) here; sync_supplier_stock reads it.
    feed_path = models.CharField(max_length=300, blank=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class StockItem(models.Model):
    variant = models.ForeignKey(ProductVariant, related_name="stock_items", on_delete=models.CASCADE)
    warehouse = models.ForeignKey(Warehouse, related_name="stock_items", on_delete=models.CASCADE)
    quantity = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="uniq_stock_per_warehouse")
        ]

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


class StockMovement(TimeStampedModel):
    REASONS = [("sale", "Sale"), ("restock", "Restock"), ("return", "Return"), ("adjust", "Adjustment")]

    stock_item = models.ForeignKey(StockItem, related_name="movements", on_delete=models.CASCADE)
    delta = models.IntegerField()
    reason = models.CharField(max_length=10, choices=REASONS)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=200, blank=True)
