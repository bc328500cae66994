from django.db.models import F
from django.dispatch import receiver

from legacy_monolith.accounts.models import CustomerProfile
from legacy_monolith.orders.models import Order
from legacy_monolith.orders.services import change_status
from legacy_monolith.payments.signals import payment_captured, payment_refunded


@receiver(payment_captured, dispatch_uid="orders.mark_paid")
def mark_order_paid(sender, payment, **kwargs):
    order = payment.order
    if order.status == Order.Status.PENDING:
        change_status(order, Order.Status.PAID, note=f"payment {payment.reference} captured")
    CustomerProfile.objects.filter(user_id=order.customer_id).update(
        lifetime_value=F("lifetime_value") + payment.amount,
        loyalty_points=F("loyalty_points") + int(payment.amount),
    )


@receiver(payment_refunded, dispatch_uid="orders.mark_refunded")
def mark_order_refunded(sender, refund, **kwargs):
    order = refund.payment.order
    refunded = sum(r.amount for r in refund.payment.refunds.all())
    if refunded >= order.total and order.status != Order.Status.REFUNDED:
        change_status(order, Order.Status.REFUNDED, note="fully refunded")
