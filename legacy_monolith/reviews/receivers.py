from django.dispatch import receiver

from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.orders.signals import order_status_changed
from legacy_monolith.reviews.models import Review


@receiver(order_status_changed, sender=Order, dispatch_uid="reviews.link_verified")
def link_verified_purchases(sender, order, old_status, new_status, **kwargs):
    """When an order is delivered, earlier reviews by its customer become verified purchases."""
    if new_status != Order.Status.DELIVERED:
        return
    for line in OrderLine.objects.filter(order=order).select_related("variant"):
        if line.variant_id:
            Review.objects.filter(
                author_id=order.customer_id, product_id=line.variant.product_id, order_line__isnull=True
            ).update(order_line=line)
