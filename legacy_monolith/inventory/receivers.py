from django.db import transaction
from django.db.models import F
from django.dispatch import receiver

from legacy_monolith.inventory.models import StockItem, StockMovement
from legacy_monolith.orders.models import Order
from legacy_monolith.orders.signals import order_status_changed


@receiver(order_status_changed, sender=Order, dispatch_uid="inventory.release_stock")
def release_stock_on_cancel(sender, order, old_status, new_status, **kwargs):
    """A cancelled order puts its units back on the shelf they came from."""
    if new_status != Order.Status.CANCELLED:
        return
    with transaction.atomic():
        for movement in StockMovement.objects.filter(order=order, reason="sale").select_related("stock_item"):
            StockItem.objects.filter(pk=movement.stock_item_id).update(quantity=F("quantity") - movement.delta)
            StockMovement.objects.create(
                stock_item=movement.stock_item, delta=-movement.delta, reason="return", order=order,
                note="order cancelled",
            )
