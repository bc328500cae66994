"""The seam's tables, on each side that installs it. Names start with seam_ so that an
operator reading the database knows whose they are."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it describes; the relay sends it."""

    seq = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    domain = models.CharField(max_length=60)
    destination = models.CharField(max_length=100)
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    version = models.BigIntegerField()
    kind = models.CharField(max_length=10)
    event_type = models.CharField(max_length=120)
    schema_version = models.PositiveIntegerField()
    payload = models.JSONField(null=True)
    traceparent = models.CharField(max_length=55, null=True, blank=True)
    snapshot = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "seam_outbox"
        indexes = [
            models.Index(
                fields=["seq"], condition=Q(sent_at__isnull=True), name="seam_outbox_unsent"
            ),
            models.Index(
                fields=["aggregate_type", "aggregate_id", "seq"], name="seam_outbox_aggregate"
            ),
        ]


class AggregateVersion(models.Model):
    """The version this side's copy of an aggregate is at. The owner counts it up with every
    change; a follower sets it to the version it applied. After a flip the new owner counts on
    from there, so versions only ever grow."""

    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    version = models.BigIntegerField()
    deleted = models.BooleanField(default=False)

    class Meta:
        db_table = "seam_aggregate_version"
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id"], name="seam_one_version_per_aggregate"
            )
        ]


class InboxEvent(models.Model):
    """Every event this side has taken in, once: a redelivery finds its id here and changes nothing."""

    event_id = models.UUIDField(primary_key=True)
    event_type = models.CharField(max_length=120)
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    version = models.BigIntegerField()
    source = models.CharField(max_length=60)
    outcome = models.CharField(max_length=10)  # applied | stale
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "seam_inbox"


class InboxFailure(models.Model):
    """How often applying an event has failed; at SEAM['MAX_ATTEMPTS'] it becomes a dead letter."""

    event_id = models.UUIDField(primary_key=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "seam_inbox_failure"


class DeadLetter(models.Model):
    """An event this side could not apply: kept whole, listed and replayed by `manage.py
    deadletters`. One that a newer version of its aggregate has since overtaken is resolved as
    superseded by the inbox itself: replaying it could change nothing."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=120)
    aggregate_type = models.CharField(max_length=100, blank=True)
    aggregate_id = models.CharField(max_length=100, blank=True)
    version = models.BigIntegerField(null=True)
    envelope = models.JSONField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=12, blank=True)  # replayed | superseded

    class Meta:
        db_table = "seam_dead_letter"
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["aggregate_type", "aggregate_id"], name="seam_dead_letter_aggregate"
            )
        ]


class Ownership(models.Model):
    """Who writes a domain, as this side sees it; `held_until` pauses writes during a flip."""

    domain = models.CharField(max_length=60, primary_key=True)
    role = models.CharField(max_length=10)
    epoch = models.PositiveIntegerField(default=0)
    held_until = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "seam_ownership"


class OwnershipChange(models.Model):
    """The audit of flips: who, when, why, from what to what, and how long writes were held."""

    domain = models.CharField(max_length=60)
    from_owner = models.CharField(max_length=60)
    to_owner = models.CharField(max_length=60)
    actor = models.CharField(max_length=100)
    reason = models.TextField(blank=True)
    outcome = models.CharField(max_length=20)  # flipped | aborted
    pause_ms = models.FloatField(null=True)
    details = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "seam_ownership_change"
        ordering = ["id"]


class BackfillRun(models.Model):
    """A snapshot of a domain at an outbox watermark; `cursor` makes it resumable."""

    domain = models.CharField(max_length=60)
    watermark = models.BigIntegerField()
    cursor = models.JSONField(default=dict)  # aggregate type -> last key snapshotted
    emitted = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "seam_backfill_run"
        ordering = ["id"]


class SagaRun(models.Model):
    """One saga as the orchestrator drives it (extracted.seam.saga): where it is, what its steps
    returned, and who drives it now. Everything the orchestrator knows is here, so that any
    process can take over a saga whose driver died (its lease ran out)."""

    id = models.UUIDField(primary_key=True)
    saga = models.CharField(max_length=200)  # dotted path of the Saga definition
    status = models.CharField(
        max_length=14, db_index=True
    )  # running | compensating | completed | compensated | stuck
    step = models.PositiveSmallIntegerField(default=0)  # next to run, or (compensating) to undo
    data = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)  # of the current step
    step_started_at = models.DateTimeField(null=True, blank=True)  # its first attempt
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # why it compensates, or is stuck
    lease_owner = models.CharField(max_length=60, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "seam_saga"
        ordering = ["created_at"]


class SagaStepLog(models.Model):
    """The saga's history, one row per attempt of an action or a compensation."""

    run = models.ForeignKey(SagaRun, related_name="log", on_delete=models.CASCADE)
    step = models.CharField(max_length=60)
    phase = models.CharField(max_length=12)  # action | compensation
    outcome = models.CharField(max_length=10)  # started | done | failed | retry
    attempt = models.PositiveIntegerField(default=1)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "seam_saga_log"
        ordering = ["id"]


class Switch(models.Model):
    """A live toggle (`manage.py switch NAME VALUE`): read by the running processes within a
    second, so a workshop can move checkout from the atomic path to the saga without a restart."""

    name = models.CharField(max_length=60, primary_key=True)
    value = models.CharField(max_length=60)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.CharField(max_length=100, blank=True)

    class Meta:
        db_table = "seam_switch"
