"""A payment and its state machine, and the idempotency keys that make every write safe to retry."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone


class Payment(models.Model):
    class Status(models.TextChoices):
        AUTHORISED = "authorised"
        DECLINED = "declined"
        CAPTURED = "captured"
        VOIDED = "voided"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    order_ref = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices)
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    decline_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "payments_payment"
        ordering = ["created_at"]


class IdempotencyKey(models.Model):
    """One row per Idempotency-Key: the request it was first used with (its fingerprint), and,
    once answered, the answer, which a retry gets back instead of a second charge."""

    key = models.CharField(max_length=255, primary_key=True)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and canonical body
    in_flight = models.BooleanField(default=True)
    lease_until = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "payments_idempotency_key"
