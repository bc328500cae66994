import csv
import logging
from pathlib import Path

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.inventory.models import StockItem, StockMovement, Supplier

logger = logging.getLogger(__name__)


@shared_task(name="inventory.sync_supplier_stock", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def sync_supplier_stock(supplier_id: int) -> int:
    """Read the supplier's CSV feed (sku,quantity) and set stock levels to match it."""
    supplier = Supplier.objects.select_related("warehouse").get(pk=supplier_id)
    if not supplier.feed_path:
        return 0
    changed = 0
    with Path(supplier.feed_path).open(newline="") as fh, transaction.atomic():
        variants = {v.sku: v for v in ProductVariant.objects.all()}
        for row in csv.DictReader(fh):
            variant = variants.get(row.get("sku", "").strip())
            if variant is None:
                logger.warning("supplier %s lists unknown sku %r", supplier.name, row.get("sku"))
                continue
            quantity = int(row["quantity"])
            stock, _ = StockItem.objects.select_for_update().get_or_create(
                variant=variant, warehouse=supplier.warehouse
            )
            if stock.quantity != quantity:
                StockMovement.objects.create(stock_item=stock, delta=quantity - stock.quantity, reason="restock",
                                             note=f"feed {supplier.name}")
                stock.quantity = quantity
                stock.save(update_fields=["quantity"])
                changed += 1
        supplier.last_synced_at = timezone.now()
        supplier.save(update_fields=["last_synced_at"])
    return changed


@shared_task(name="inventory.sync_all_suppliers")
def sync_all_suppliers() -> None:
    for supplier_id in Supplier.objects.exclude(feed_path="").values_list("id", flat=True):
        sync_supplier_stock.delay(supplier_id)
