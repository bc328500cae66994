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
from django.db.models import Q
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


class BatchNotApplied(Exception):
    """The batch could not be applied as one; apply its events one by one instead."""


def handle_batch(raws: list[dict[str, Any]], *, using: str = "default") -> list[Outcome]:
    """Apply many events in one transaction: the outcomes, in the order given.

    What `handle` does for each event, with the bookkeeping done once for the batch (one query
    each for the inbox ids, the versions, the inbox rows, the failures, the dead letters) and
    each aggregate applied once, at the newest version the batch holds for it: an event carries
    the whole state, so the older ones of that aggregate are stale by the time the transaction
    commits, as they would be had they come after it. Anything out of the ordinary (an event
    that does not parse, an apply that fails, a concurrent consumer) raises BatchNotApplied with
    nothing written, and the caller hands each event to `handle`, which knows how to count a
    failure, retry and dead-letter it."""
    try:
        parsed = [_parse(raw) for raw in raws]
    except (ValidationError, SeamError) as exc:
        raise BatchNotApplied(f"an event cannot be applied here: {exc}") from exc
    try:
        with transaction.atomic(using=using):
            return _apply_batch(parsed, using)
    except Exception as exc:  # noqa: BLE001 - whatever it was, one by one will say it exactly
        raise BatchNotApplied(f"{type(exc).__name__}: {exc}") from exc


def _parse(raw: dict[str, Any]) -> tuple[Envelope, Any, Any]:
    envelope = Envelope.model_validate(raw)
    domain = seam_settings.domain_of_aggregate(envelope.aggregate_type)
    return envelope, domain.spec.aggregate(envelope.aggregate_type), envelope.state()


def _apply_batch(parsed: list[tuple[Envelope, Any, Any]], using: str) -> list[Outcome]:
    ids = [envelope.id for envelope, _, _ in parsed]
    seen = set(
        InboxEvent.objects.using(using).filter(event_id__in=ids).values_list("event_id", flat=True)
    )
    outcomes: list[Outcome | None] = [None] * len(parsed)
    newest: dict[tuple[str, str], int] = {}  # aggregate -> index of its newest event
    for n, (envelope, _, _) in enumerate(parsed):
        if envelope.id in seen:
            outcomes[n] = "duplicate"
            continue
        seen.add(envelope.id)
        last = newest.get(envelope.key)
        if last is None or envelope.version > parsed[last][0].version:
            newest[envelope.key] = n
    rows = _version_rows(list(newest), using)
    applied = [
        n for n in sorted(newest.values())  # in the order the owner published their last changes
        if (row := rows.get(parsed[n][0].key)) is None or parsed[n][0].version > row.version
    ]  # fmt: skip
    with applying():
        # Runs of upserts of one aggregate type go to its apply_many together; a delete on its own.
        run: list[int] = []
        for k in [*applied, None]:  # None: the end, where the last run goes
            if run and (k is None or parsed[k][1] is not parsed[run[0]][1] or parsed[k][2] is None):
                parsed[run[0]][1].apply_all([parsed[m][2] for m in run])
                run = []
            if k is None:
                break
            envelope, aggregate, state = parsed[k]
            if state is None:
                aggregate.remove(aggregate.parse_key(envelope.aggregate_id))
            else:
                run.append(k)
    _record_versions(
        [parsed[n][0] for n in applied], [parsed[n][2] is None for n in applied], rows, using
    )
    applied_set = set(applied)
    inbox_rows = []
    for n, (envelope, _, _) in enumerate(parsed):
        if outcomes[n] == "duplicate":
            continue
        outcomes[n] = "applied" if n in applied_set else "stale"
        inbox_rows.append(InboxEvent(
            event_id=envelope.id, event_type=envelope.type, aggregate_type=envelope.aggregate_type,
            aggregate_id=envelope.aggregate_id, version=envelope.version, source=envelope.source,
            outcome=outcomes[n],
        ))  # fmt: skip
    InboxEvent.objects.using(using).bulk_create(inbox_rows)
    InboxFailure.objects.using(using).filter(event_id__in=ids).delete()
    return [outcome or "duplicate" for outcome in outcomes]


def _version_rows(
    keys: list[tuple[str, str]], using: str
) -> dict[tuple[str, str], AggregateVersion]:
    """This side's version rows of KEYS, locked on PostgreSQL (in id order: two consumers lock
    in one order and never deadlock)."""
    if not keys:
        return {}
    match = Q()
    for aggregate_type, aggregate_id in keys:
        match |= Q(aggregate_type=aggregate_type, aggregate_id=aggregate_id)
    rows = AggregateVersion.objects.using(using).filter(match).order_by("id")
    if connections[using].vendor == "postgresql":
        rows = rows.select_for_update()
    return {(row.aggregate_type, row.aggregate_id): row for row in rows}


def _record_versions(envelopes: list[Envelope], deleted: list[bool],
                     rows: dict[tuple[str, str], AggregateVersion], using: str) -> None:  # fmt: skip
    """Set the versions applied, and mark the dead letters they supersede resolved."""
    if not envelopes:
        return
    changed, new = [], []
    for envelope, gone in zip(envelopes, deleted, strict=True):
        row = rows.get(envelope.key)
        if row is None:
            new.append(AggregateVersion(aggregate_type=envelope.aggregate_type,
                                        aggregate_id=envelope.aggregate_id, version=envelope.version, deleted=gone))  # fmt: skip
        else:
            row.version, row.deleted = envelope.version, gone
            changed.append(row)
    AggregateVersion.objects.using(using).bulk_update(changed, ["version", "deleted"])
    AggregateVersion.objects.using(using).bulk_create(new)
    version_of = {envelope.key: envelope.version for envelope in envelopes}
    letters = DeadLetter.objects.using(using).filter(
        resolved_at__isnull=True, aggregate_id__in={envelope.aggregate_id for envelope in envelopes}
    )
    superseded = [
        letter.pk for letter in letters
        if letter.version is not None
        and letter.version <= version_of.get((letter.aggregate_type, letter.aggregate_id), -1)
    ]  # fmt: skip
    if superseded:
        DeadLetter.objects.using(using).filter(pk__in=superseded).update(
            resolved_at=timezone.now(), resolution="superseded"
        )


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
