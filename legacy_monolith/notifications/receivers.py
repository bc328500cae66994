from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from legacy_monolith.inventory.signals import low_stock
from legacy_monolith.notifications.models import EmailTemplate, Notification, NotificationPreference
from legacy_monolith.notifications.tasks import send_notification
from legacy_monolith.orders.models import Order
from legacy_monolith.orders.signals import order_placed, order_status_changed


def _queue(user, to_email, template_key, payload):
    notification = Notification.objects.create(
        user=user,
        to_email=to_email,
        template=EmailTemplate.objects.filter(key=template_key).first(),
        payload=payload,
    )
    transaction.on_commit(lambda: send_notification.delay(notification.pk))
    return notification


def _wants_order_mail(user) -> bool:
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref is None or pref.email_orders


@receiver(order_placed, sender=Order, dispatch_uid="notifications.order_placed")
def on_order_placed(sender, order, **kwargs):
    if _wants_order_mail(order.customer):
        _queue(order.customer, order.customer.email, "order-confirmation",
               {"order": order.number, "total": str(order.total)})


@receiver(order_status_changed, sender=Order, dispatch_uid="notifications.order_status")
def on_order_status_changed(sender, order, old_status, new_status, **kwargs):
    if new_status in {Order.Status.SHIPPED, Order.Status.CANCELLED, Order.Status.REFUNDED} and _wants_order_mail(order.customer):
        _queue(order.customer, order.customer.email, f"order-{new_status}",
               {"order": order.number, "status": new_status})


@receiver(low_stock, dispatch_uid="notifications.low_stock")
def on_low_stock(sender, stock_item, **kwargs):
    for email in settings.SHOP_STAFF_EMAILS:
        _queue(None, email, "low-stock",
               {"sku": stock_item.variant.sku, "warehouse": stock_item.warehouse.code,
                "available": stock_item.available})
