"""The transactional outbox: an event row written in the writer's own transaction.

`publish()` is the one way in. Captured model changes (extracted.seam.capture) call it; code
that changes an aggregate without the ORM (bulk update(), raw SQL) must call it itself, inside
the same `transaction.atomic()` as the change, or the change reaches no follower.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from extracted.seam import settings as seam_settings
from extracted.seam import tracing
from extracted.seam.domains import Aggregate
from extracted.seam.events import DELETED, UPSERTED, SeamError, aggregate_type
from extracted.seam.models import OutboxEvent
from extracted.seam.ownership import check_write


class NotInTransaction(SeamError):
    pass


def publish(aggregate: Aggregate | str, key: Any, *, using: str = "default") -> OutboxEvent:
    """Write an event with the aggregate's state as it is now in this transaction: `upserted`
    with the state, or `deleted` when `state(key)` finds nothing. Bumps the aggregate's version."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise NotInTransaction(
            "publish() must run inside transaction.atomic() together with the change it describes"
        )
    aggregate = _aggregate(aggregate)
    config = seam_settings.domain_of_aggregate(aggregate.name)
    check_write(config.name, using)
    # The version row first: it is locked until this transaction ends, so a second writer of the
    # same aggregate (its product row, a variant, a tag) waits here, and the state read below
    # holds every change committed before it. Read first, a writer could get the newer version
    # with the older state, and the follower would keep the older state for good.
    version = bump_version(aggregate.name, aggregate.key_text(key), using=using)
    state = aggregate.state(key)
    if state is None:
        mark_deleted(aggregate.name, aggregate.key_text(key), using=using)
    return _write(aggregate, key, state, version, config, snapshot=False, using=using)


def publish_snapshot(
    aggregate: Aggregate, key: Any, state: Any, version: int, *, using: str = "default"
) -> OutboxEvent:
    """Re-state what the owner has, at the version it is at (backfill, reconcile --repair)."""
    config = seam_settings.domain_of_aggregate(aggregate.name)
    return _write(aggregate, key, state, version, config, snapshot=True, using=using)


NOTIFY_CHANNEL = "seam_outbox"


def _write(aggregate, key, state, version, config, *, snapshot: bool, using: str) -> OutboxEvent:
    kind = DELETED if state is None else UPSERTED
    payload = None if state is None else aggregate.type.validate(state).model_dump(mode="json")
    connection = connections[using]
    if connection.vendor == "postgresql":
        # Delivered at commit (and only then), once per transaction: an idle relay LISTENing
        # wakes at once instead of at its next look (relay.Waker).
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return OutboxEvent.objects.using(using).create(
        event_id=uuid.uuid4(),
        domain=config.name,
        destination=config.destination,
        aggregate_type=aggregate.name,
        aggregate_id=aggregate.key_text(key),
        version=version,
        kind=kind,
        event_type=aggregate.type.event_type(kind),
        schema_version=aggregate.type.version,
        payload=payload,
        traceparent=tracing.current_traceparent(),
        snapshot=snapshot,
        created_at=timezone.now(),
    )


def bump_version(aggregate: str, key: str, *, deleted: bool = False, using: str = "default") -> int:
    """Count the aggregate's version up by one and return it. The row stays locked until the
    transaction ends, so two writers of one aggregate get versions in commit order."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "INSERT INTO seam_aggregate_version (aggregate_type, aggregate_id, version, deleted)"
            " VALUES (%s, %s, 1, %s)"
            " ON CONFLICT (aggregate_type, aggregate_id)"
            " DO UPDATE SET version = seam_aggregate_version.version + 1, deleted = excluded.deleted"
            " RETURNING version",
            [aggregate, key, deleted],
        )
        return int(cursor.fetchone()[0])


def mark_deleted(aggregate: str, key: str, *, using: str = "default") -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE seam_aggregate_version SET deleted = %s WHERE aggregate_type = %s AND aggregate_id = %s",
            [True, aggregate, key],
        )


def _aggregate(aggregate: Aggregate | str) -> Aggregate:
    if isinstance(aggregate, Aggregate):
        return aggregate
    aggregate_type(aggregate)
    return seam_settings.domain_of_aggregate(aggregate).spec.aggregate(aggregate)


def in_transaction(using: str = "default") -> Any:
    return transaction.atomic(using=using)
