from django.db import transaction
from django.db.models import Avg, Count
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from extracted.seam import ownership
from legacy_monolith.catalog.models import Product
from legacy_monolith.catalog.tasks import push_rating
from legacy_monolith.reviews.models import Review


@receiver([post_save, post_delete], sender=Review, dispatch_uid="catalog.refresh_rating")
def refresh_product_rating(sender, instance, **kwargs):
    """Keep the denormalised rating on the product row in step with approved reviews."""
    stats = Review.objects.filter(product_id=instance.product_id, is_approved=True).aggregate(
        avg=Avg("rating"), count=Count("id")
    )
    product = Product.objects.filter(pk=instance.product_id).first()
    if product is None:
        return
    avg, count = round(stats["avg"] or 0, 2), stats["count"]
    if ownership.role("catalog") != "owner":
        # The catalog service owns the product since the flip: the rating goes there, once this
        # transaction has committed, and comes back to this copy through the seam.
        transaction.on_commit(lambda: push_rating.delay(product.slug, f"{avg:.2f}", count))
        return
    # Through the model, not update(): the change must reach the catalog's outbox (docs/seam.md).
    product.rating_avg, product.rating_count = avg, count
    product.save(update_fields=["rating_avg", "rating_count", "updated_at"])
