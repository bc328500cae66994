from django.contrib.auth import get_user_model
from django.db import models

from legacy_monolith.catalog.models import Product
from legacy_monolith.core.models import TimeStampedModel

User = get_user_model()


class Review(TimeStampedModel):
    product = models.ForeignKey(Product, related_name="reviews", on_delete=models.CASCADE)
    author = models.ForeignKey(User, related_name="reviews", on_delete=models.CASCADE)
    order_line = models.ForeignKey("orders.OrderLine", null=True, blank=True, on_delete=models.SET_NULL)
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    body = models.TextField(blank=True)
    is_approved = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "author"], name="one_review_per_product"),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="rating_1_to_5"),
        ]

    @property
    def verified_purchase(self) -> bool:
        return self.order_line_id is not None


class ReviewVote(models.Model):
    review = models.ForeignKey(Review, related_name="votes", on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    helpful = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="one_vote_per_user")]
