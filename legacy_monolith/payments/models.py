from django.db import models

from legacy_monolith.core.models import TimeStampedModel
from legacy_monolith.orders.models import Order


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        AUTHORIZED = "authorized", "Authorized"
        CAPTURED = "captured", "Captured"
        DECLINED = "declined", "Declined"
        REFUNDED = "refunded", "Refunded"

    order = models.ForeignKey(Order, related_name="payments", on_delete=models.PROTECT)
    provider = models.CharField(max_length=30, default="fakecard")
    reference = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices)
    captured_at = models.DateTimeField(null=True, blank=True)


class Refund(TimeStampedModel):
    payment = models.ForeignKey(Payment, related_name="refunds", on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200)
    return_request = models.ForeignKey("orders.ReturnRequest", null=True, blank=True, on_delete=models.SET_NULL)


class Invoice(TimeStampedModel):
    order = models.OneToOneField("orders.Order", related_name="invoice", on_delete=models.PROTECT)
    number = models.CharField(max_length=32, unique=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    issued_at = models.DateTimeField()

    class Meta:
        db_table = "billing_invoice"  # the billing app was merged into payments in 2019
