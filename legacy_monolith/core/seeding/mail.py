"""The Notification rows the shop's receivers queue, already sent (or failed) by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta

from legacy_monolith.core.seeding.world import World
from legacy_monolith.notifications.models import Notification

FAILURE_SHARE = 0.005


def notification(
    world: World, user_id: int | None, to_email: str, key: str, at: datetime, payload: dict
) -> Notification:
    rng = world.rng
    if rng.random() < FAILURE_SHARE:
        status, sent_at, error = (
            Notification.Status.FAILED,
            None,
            "SMTPServerDisconnected: Connection unexpectedly closed",
        )
    else:
        status, sent_at, error = (
            Notification.Status.SENT,
            at + timedelta(seconds=rng.randint(2, 90)),
            "",
        )
    return Notification(
        user_id=user_id,
        to_email=to_email,
        template_id=world.template_ids[key],
        payload=payload,
        status=status,
        sent_at=sent_at,
        error=error,
        created_at=at,
        updated_at=sent_at or at,
    )
