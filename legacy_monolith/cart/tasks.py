from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from legacy_monolith.cart.models import Cart


@shared_task(name="cart.purge_abandoned_carts")
def purge_abandoned_carts(days: int = 30) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Cart.objects.filter(user__isnull=True, updated_at__lt=cutoff, checked_out_at__isnull=True).delete()
    return deleted
