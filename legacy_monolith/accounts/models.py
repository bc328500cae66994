from django.contrib.auth.models import AbstractUser
from django.db import models

from legacy_monolith.core.models import TimeStampedModel


class User(AbstractUser):
    """The shop's customer and staff account; email is the login everyone actually uses."""

    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=32, blank=True)
    marketing_opt_in = models.BooleanField(default=False)

    class Meta:
        db_table = "accounts_user"


class Address(TimeStampedModel):
    user = models.ForeignKey(User, related_name="addresses", on_delete=models.CASCADE)
    full_name = models.CharField(max_length=150)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="DE")
    is_default = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.full_name}, {self.line1}, {self.postcode} {self.city}"


class CustomerProfile(TimeStampedModel):
    user = models.OneToOneField(User, related_name="profile", on_delete=models.CASCADE)
    loyalty_points = models.PositiveIntegerField(default=0)
    default_address = models.ForeignKey(
        Address, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
