"""Order state changes shared by views, receivers and tasks."""

from django.db import transaction

from legacy_monolith.orders.models import Order, OrderStatusEvent
from legacy_monolith.orders.signals import order_status_changed

ALLOWED = {
    Order.Status.PENDING: {Order.Status.PAID, Order.Status.CANCELLED},
    Order.Status.PAID: {Order.Status.SHIPPED, Order.Status.CANCELLED, Order.Status.REFUNDED},
    Order.Status.SHIPPED: {Order.Status.DELIVERED, Order.Status.REFUNDED},
    Order.Status.DELIVERED: {Order.Status.REFUNDED},
    Order.Status.CANCELLED: set(),
    Order.Status.REFUNDED: set(),
}


class InvalidTransition(Exception):
    pass


def change_status(order: Order, new_status: str, note: str = "", by=None) -> Order:
    old = order.status
    if new_status not in ALLOWED[old]:
        raise InvalidTransition(f"cannot move order {order.number} from {old} to {new_status}")
    with transaction.atomic():
        order.status = new_status
        order.save(update_fields=["status", "updated_at"])
        OrderStatusEvent.objects.create(
            order=order, from_status=old, to_status=new_status, note=note, created_by=by
        )
    order_status_changed.send(sender=Order, order=order, old_status=old, new_status=new_status)
    return order
