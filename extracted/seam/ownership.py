"""Who writes a domain on this side: the owner captures its changes; a follower refuses writes that
do not come from its inbox; a held domain refuses every write for a bounded moment (a flip)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from extracted.seam import settings as seam_settings
from extracted.seam.events import SeamError
from extracted.seam.models import Ownership

RETRY_AFTER_S = 1
# Just after a flip, a write routed here by a proxy worker that has not seen the new route yet
# is told to retry (503), not refused (409): the retry goes to the new owner.
MOVED_GRACE_S = 5.0

# Set while the inbox writes a peer's change: those writes are followed, not owned.
_applying: contextvars.ContextVar[bool] = contextvars.ContextVar("seam_applying", default=False)


class NotOwner(SeamError):
    """A write on the side that follows the domain: it would be overwritten, so it is refused."""

    status = 409


class WritesHeld(SeamError):
    """Writes pause while ownership moves; the caller retries after `retry_after` seconds."""

    status = 503

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@contextmanager
def applying() -> Iterator[None]:
    """Writes inside come from the peer (the inbox, a backfill): not captured, not refused."""
    token = _applying.set(True)
    try:
        yield
    finally:
        _applying.reset(token)


def is_applying() -> bool:
    return _applying.get()


def current(domain: str, using: str = "default") -> Ownership:
    row = Ownership.objects.using(using).filter(domain=domain).first()
    if row is None:
        config = seam_settings.domain(domain)
        row, _ = Ownership.objects.using(using).get_or_create(
            domain=domain, defaults={"role": config.initial_role}
        )
    return row


def role(domain: str, using: str = "default") -> str:
    return current(domain, using).role


def check_write(domain: str, using: str = "default") -> None:
    """Called inside the writer's transaction before its event is written. On PostgreSQL the
    ownership row is read FOR SHARE, so a flip that holds writes waits for writers already past
    this point, and writers after it see the hold."""
    row = _read_for_share(domain, using)
    now = timezone.now()
    if row.held_until is not None and row.held_until > now:
        raise WritesHeld(
            f"writes to {domain} are held while its ownership moves; retry in {RETRY_AFTER_S} s"
        )
    if row.role != "owner":
        config = seam_settings.domain(domain)
        if row.epoch > 0 and (now - row.changed_at).total_seconds() < MOVED_GRACE_S:
            raise WritesHeld(
                f"{domain} has just moved to {config.peer}; retry in {RETRY_AFTER_S} s"
            )
        raise NotOwner(
            f"{domain} is owned by {config.peer} on this side's record (epoch {row.epoch}); "
            f"write through {config.peer_url or config.peer}, or flip ownership back first"
        )


def _read_for_share(domain: str, using: str) -> Ownership:
    connection = connections[using]
    if connection.vendor == "postgresql":
        current(domain, using)  # make sure the row exists
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT role, epoch, held_until FROM seam_ownership WHERE domain = %s FOR SHARE",
                [domain],
            )
            role_, epoch, held_until = cursor.fetchone()
        return Ownership(domain=domain, role=role_, epoch=epoch, held_until=held_until)
    return current(domain, using)


def hold(domain: str, until: datetime, using: str = "default") -> Ownership:
    """Pause writes until `until` (or release()). Waits for writers in flight (see check_write)."""
    with transaction.atomic(using=using):
        row = current(domain, using)
        Ownership.objects.using(using).filter(domain=domain).update(held_until=until)
    row.held_until = until
    return row


def release(domain: str, using: str = "default") -> None:
    Ownership.objects.using(using).filter(domain=domain).update(held_until=None)


def set_role(domain: str, new_role: str, epoch: int, using: str = "default") -> Ownership:
    if new_role not in seam_settings.ROLES:
        raise SeamError(f"role must be 'owner' or 'follower', not {new_role!r}")
    with transaction.atomic(using=using):
        before = current(domain, using)
        Ownership.objects.using(using).filter(domain=domain).update(
            role=new_role, epoch=epoch, changed_at=timezone.now()
        )
        if new_role == "owner" and before.role != "owner":
            _reset_sequences(domain, using)
    return current(domain, using)


def _reset_sequences(domain: str, using: str) -> None:
    """Rows that came from the peer kept the peer's ids; on PostgreSQL the new owner's sequences
    must move past them before it creates rows of its own."""
    from django.apps import apps
    from django.core.management.color import no_style

    config = seam_settings.domain(domain)
    models = []
    for aggregate in config.spec.aggregates:
        models.append(apps.get_model(aggregate.root))
        models.extend(apps.get_model(label) for label in aggregate.members)
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
