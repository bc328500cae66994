from django.conf import settings
from django.db import models

from legacy_monolith.core.models import TimeStampedModel


class Cart(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    coupon = models.ForeignKey("promotions.Coupon", null=True, blank=True, on_delete=models.SET_NULL)
    checked_out_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Cart {self.pk}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, related_name="items", on_delete=models.CASCADE)
    variant = models.ForeignKey("catalog.ProductVariant", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cart", "variant"], name="uniq_cart_variant")]


class Wishlist(TimeStampedModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, related_name="wishlist", on_delete=models.CASCADE)
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="wishlisted_by")
