"""The idempotent consumer: an event is applied at most once, whatever the broker redelivers, and
an aggregate only ever moves forward in version.

`handle(envelope)` runs in one transaction: it records the event id in the inbox (a redelivery
finds it there and changes nothing), compares the event's version with the version this side's
copy is at (an older or equal one is stale: recorded, not applied, so a late event never undoes
a newer one), and applies the state through the domain's `apply` or `remove`. A failure rolls
all of it back and is counted; after SEAM['MAX_ATTEMPTS'] failures, or at once for an event that
can never apply (unknown type, invalid payload), the event becomes a dead letter.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from pydantic import ValidationError

from extracted.seam import settings as seam_settings
from extracted.seam.events import Envelope, SeamError
from extracted.seam.models import AggregateVersion, DeadLetter, InboxEvent, InboxFailure
from extracted.seam.ownership import applying

log = logging.getLogger("extracted.seam.inbox")

Outcome = Literal["applied", "stale", "duplicate", "dead"]


class RetryLater(Exception):
    """Applying failed this time; the message goes back to the broker to be tried again."""


def handle(raw: dict[str, Any], *, using: str = "default") -> Outcome:
    try:
        envelope = Envelope.model_validate(raw)
        aggregate = seam_settings.domain_of_aggregate(envelope.aggregate_type).spec.aggregate(
            envelope.aggregate_type
        )
        state = envelope.state()
    except (ValidationError, SeamError) as exc:
        return _dead(raw, f"cannot be applied here: {exc}", attempts=1, using=using)
    try:
        return _apply(envelope, aggregate, state, using)
    except IntegrityError as exc:
        if InboxEvent.objects.using(using).filter(event_id=envelope.id).exists():
            return "duplicate"  # the same event, applied concurrently by another consumer
        return _failed(raw, envelope, exc, using)
    except Exception as exc:  # noqa: BLE001 - the domain's apply may fail any way; count it
        return _failed(raw, envelope, exc, using)


def _apply(envelope: Envelope, aggregate, state, using: str) -> Outcome:
    with transaction.atomic(using=using):
        if InboxEvent.objects.using(using).filter(event_id=envelope.id).exists():
            return "duplicate"
        current = _current_version(envelope, using)
        # A snapshot re-states a version the owner already had; equal means nothing to do.
        fresh = current is None or envelope.version > current
        if fresh:
            with applying():
                if state is None:
                    aggregate.remove(aggregate.parse_key(envelope.aggregate_id))
                else:
                    aggregate.apply(state)
            AggregateVersion.objects.using(using).update_or_create(
                aggregate_type=envelope.aggregate_type,
                aggregate_id=envelope.aggregate_id,
                defaults={"version": envelope.version, "deleted": state is None},
            )
            DeadLetter.objects.using(using).filter(
                aggregate_type=envelope.aggregate_type, aggregate_id=envelope.aggregate_id,
                version__lte=envelope.version, resolved_at__isnull=True,
            ).update(resolved_at=timezone.now(), resolution="superseded")  # fmt: skip
        InboxEvent.objects.using(using).create(
            event_id=envelope.id,
            event_type=envelope.type,
            aggregate_type=envelope.aggregate_type,
            aggregate_id=envelope.aggregate_id,
            version=envelope.version,
            source=envelope.source,
            outcome="applied" if fresh else "stale",
        )
        InboxFailure.objects.using(using).filter(event_id=envelope.id).delete()
    return "applied" if fresh else "stale"


def _current_version(envelope: Envelope, using: str) -> int | None:
    rows = AggregateVersion.objects.using(using).filter(
        aggregate_type=envelope.aggregate_type, aggregate_id=envelope.aggregate_id
    )
    if connections[using].vendor == "postgresql":
        rows = rows.select_for_update()
    row = rows.values_list("version", flat=True).first()
    return None if row is None else int(row)


def _failed(raw: dict, envelope: Envelope, exc: Exception, using: str) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic(using=using):
        failure, _ = (
            InboxFailure.objects.using(using)
            .select_for_update()
            .get_or_create(event_id=envelope.id)
        )
        failure.attempts += 1
        failure.last_error = error[:2000]
        failure.updated_at = timezone.now()
        failure.save()
    if failure.attempts >= seam_settings.max_attempts():
        return _dead(raw, error, attempts=failure.attempts, using=using)
    log.warning("seam inbox: %s v%s failed (%d of %d): %s", envelope.type, envelope.version,
                failure.attempts, seam_settings.max_attempts(), error)  # fmt: skip
    raise RetryLater(error)


def _dead(raw: dict, error: str, *, attempts: int, using: str) -> Outcome:
    event_id = str(raw.get("id", "")) if isinstance(raw, dict) else ""
    log.error("seam inbox: event %s is a dead letter: %s", event_id or "(no id)", error)
    with transaction.atomic(using=using):
        fields = raw if isinstance(raw, dict) else {}
        version = fields.get("version")
        DeadLetter.objects.using(using).update_or_create(
            event_id=event_id or "00000000-0000-0000-0000-000000000000",
            defaults={
                "event_type": str(fields.get("type", "?"))[:120],
                "aggregate_type": str(fields.get("aggregate_type", ""))[:100],
                "aggregate_id": str(fields.get("aggregate_id", ""))[:100],
                "version": version if isinstance(version, int) else None,
                "envelope": raw if isinstance(raw, dict) else {"raw": repr(raw)},
                "error": error[:4000],
                "attempts": attempts,
                "resolved_at": None,
                "resolution": "",
            },
        )
        if event_id:
            InboxFailure.objects.using(using).filter(event_id=event_id).delete()
    return "dead"


def replay(letter: DeadLetter, *, using: str = "default") -> Outcome:
    """Try a dead letter again (after the fix): applied, stale or duplicate marks it replayed."""
    InboxFailure.objects.using(using).filter(event_id=letter.event_id).delete()
    try:
        outcome = handle(letter.envelope, using=using)
    except RetryLater as exc:
        letter.error = str(exc)[:4000]
        letter.save(update_fields=["error"])
        return "dead"
    if outcome != "dead":
        letter.resolved_at, letter.resolution = timezone.now(), "replayed"
        letter.save(update_fields=["resolved_at", "resolution"])
    return outcome
