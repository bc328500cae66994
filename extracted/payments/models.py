"""A payment, and the idempotency keys that make every write safe to retry."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from extracted.payments.idempotency import Held
from extracted.payments.lifecycle import ZERO, Balance, Status


class Payment(models.Model):
    Status = Status

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    order_ref = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=[(s.value, s.value) for s in Status])
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    decline_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "payments_payment"
        ordering = ["created_at"]

    @property
    def balance(self) -> Balance:
        return Balance(Status(self.status), self.amount, self.captured_amount, self.refunded_amount)

    @balance.setter
    def balance(self, balance: Balance) -> None:
        self.status = balance.status.value
        self.captured_amount, self.refunded_amount = balance.captured, balance.refunded
        self.updated_at = timezone.now()


class IdempotencyKey(models.Model):
    """One row per Idempotency-Key: the request it was first used for (its fingerprint), who holds
    it while that request runs (`owner`, until `lease_until`), and once answered, the answer a
    retry gets back instead of a second charge."""

    key = models.CharField(max_length=255, primary_key=True)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and canonical body
    request = models.CharField(max_length=300, default="")  # "POST /api/...", for messages
    owner = models.CharField(max_length=32, default="")  # the running request that holds it
    in_flight = models.BooleanField(default=True)
    lease_until = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, default="")
    body = models.TextField(default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "payments_idempotency_key"

    @property
    def held(self) -> Held:
        return Held(self.fingerprint, not self.in_flight, self.lease_until)
