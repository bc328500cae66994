from django.db import models

from legacy_monolith.core.models import TimeStampedModel


class Carrier(models.Model):
    name = models.CharField(max_length=50, unique=True)
    tracking_url = models.CharField(max_length=200, help_text="with {number} placeholder")

    def __str__(self) -> str:
        return self.name


class ShippingMethod(models.Model):
    carrier = models.ForeignKey(Carrier, related_name="methods", on_delete=models.CASCADE)
    name = models.CharField(max_length=80)
    code = models.SlugField(unique=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    eta_days = models.PositiveSmallIntegerField(default=3)
    max_weight_grams = models.PositiveIntegerField(default=30000)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.name}"


class Shipment(TimeStampedModel):
    class Status(models.TextChoices):
        READY = "ready", "Ready to ship"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        LOST = "lost", "Lost"

    order = models.ForeignKey("orders.Order", related_name="shipments", on_delete=models.CASCADE)
    method = models.ForeignKey(ShippingMethod, on_delete=models.PROTECT)
    address = models.ForeignKey("accounts.Address", null=True, on_delete=models.SET_NULL)
    lines = models.ManyToManyField("orders.OrderLine", related_name="shipments")
    tracking_number = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READY)
    shipped_at = models.DateTimeField(null=True, blank=True)


class TrackingEvent(TimeStampedModel):
    shipment = models.ForeignKey(Shipment, related_name="tracking_events", on_delete=models.CASCADE)
    status = models.CharField(max_length=12, choices=Shipment.Status.choices)
    location = models.CharField(max_length=100, blank=True)
