import logging

from celery import shared_task
from django.core.mail import send_mail
from django.template import Context, Template
from django.utils import timezone

from legacy_monolith.notifications.models import Notification

logger = logging.getLogger(__name__)

FALLBACK_SUBJECT = "Legacy Shop: an update on your order"


@shared_task(name="notifications.send_notification", bind=True, max_retries=5, default_retry_delay=30)
def send_notification(self, notification_id: int) -> str:
    notification = Notification.objects.select_related("template").get(pk=notification_id)
    if notification.status == Notification.Status.SENT:
        return "already-sent"
    context = Context(notification.payload)
    if notification.template:
        subject = Template(notification.template.subject).render(context)
        body = Template(notification.template.body).render(context)
    else:
        subject, body = FALLBACK_SUBJECT, "\n".join(f"{k}: {v}" for k, v in notification.payload.items())
    try:
        send_mail(subject, body, None, [notification.to_email])
    except OSError as exc:
        Notification.objects.filter(pk=notification_id).update(status=Notification.Status.FAILED, error=str(exc))
        raise self.retry(exc=exc) from exc
    Notification.objects.filter(pk=notification_id).update(status=Notification.Status.SENT, sent_at=timezone.now())
    return "sent"


@shared_task(name="notifications.send_order_confirmation")
def send_order_confirmation(order_id: int) -> None:
    """Kept for old callers; new code queues a Notification through the order_placed signal."""
    from legacy_monolith.orders.models import Order

    order = Order.objects.select_related("customer").get(pk=order_id)
    send_mail(f"Your order {order.number}", f"Thank you! Total: {order.total}", None, [order.customer.email])
