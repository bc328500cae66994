"""Backfill: copy what the owner has into a new follower while writes keep coming, the way
Debezium snapshots a table before it streams.

A run records the outbox's watermark (the last event written when it began), then walks each
aggregate of the domain in key order, a page at a time, and writes a *snapshot* event per row
at the version the row is at. Each page is one transaction that first locks the rows' version
counters, so a writer changing a row waits for the page, or the page waits for the writer, and
the state and version read together always belong together. The events go out through the same
outbox and relay as live changes, in order per aggregate, and the follower's inbox applies a
snapshot only if it is newer than what it has: the catch-up is the outbox itself.

The run's cursor is saved with each page, so a backfill that is stopped goes on where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.models import Max
from django.utils import timezone

from extracted.seam import ownership
from extracted.seam.checksums import _sortable
from extracted.seam.domains import Aggregate
from extracted.seam.events import SeamError
from extracted.seam.models import BackfillRun, OutboxEvent
from extracted.seam.outbox import publish_snapshot
from extracted.seam.settings import DomainConfig

PAGE = 200


@dataclass
class BackfillResult:
    run: int
    watermark: int
    emitted: int
    resumed: bool
    last_seq: int


def backfill(config: DomainConfig, *, page: int = PAGE, restart: bool = False,
             progress: Callable[[str, int, int], None] = lambda name, done, total: None) -> BackfillResult:  # fmt: skip
    if ownership.role(config.name) != "owner":
        raise SeamError(
            f"this side follows {config.name}; run the backfill on its owner ({config.peer})"
        )
    run = (
        None
        if restart
        else BackfillRun.objects.filter(domain=config.name, finished_at__isnull=True).last()
    )
    resumed = run is not None
    if run is None:
        watermark = OutboxEvent.objects.aggregate(top=Max("seq"))["top"] or 0
        run = BackfillRun.objects.create(domain=config.name, watermark=watermark)
    for aggregate in config.spec.aggregates:
        keys = sorted(aggregate.keys(), key=_sortable)
        after = run.cursor.get(aggregate.name)
        if after is not None:
            keys = [k for k in keys if _sortable(k) > _sortable(aggregate.parse_key(after))]
        total = len(keys) + int(run.cursor.get(f"{aggregate.name}:done", 0))
        for start in range(0, len(keys), page):
            chunk = keys[start : start + page]
            emitted = _snapshot_page(aggregate, chunk)
            run.cursor[aggregate.name] = aggregate.key_text(chunk[-1])
            run.cursor[f"{aggregate.name}:done"] = int(
                run.cursor.get(f"{aggregate.name}:done", 0)
            ) + len(chunk)
            run.emitted += emitted
            run.save(update_fields=["cursor", "emitted"])
            progress(aggregate.name, run.cursor[f"{aggregate.name}:done"], total)
        progress(aggregate.name, total, total)
    last_seq = (
        OutboxEvent.objects.filter(snapshot=True).aggregate(top=Max("seq"))["top"] or run.watermark
    )
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    return BackfillResult(run.pk, run.watermark, run.emitted, resumed, last_seq)


def _snapshot_page(aggregate: Aggregate, keys: list) -> int:
    texts = [aggregate.key_text(k) for k in keys]
    emitted = 0
    with transaction.atomic():
        versions = _lock_versions(aggregate.name, texts)
        for key, text in zip(keys, texts, strict=True):
            state = aggregate.state(key)
            if state is None:
                continue  # deleted since the keys were listed: its deleted event is in the outbox
            publish_snapshot(aggregate, key, state, versions[text])
            emitted += 1
    return emitted


def _lock_versions(aggregate: str, keys: list[str]) -> dict[str, int]:
    """Make sure each key has a version row (0: as it was before the seam saw it), lock them all
    until the page commits, and return their versions."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute(
                "INSERT INTO seam_aggregate_version (aggregate_type, aggregate_id, version, deleted)"
                " VALUES (%s, %s, 0, %s) ON CONFLICT (aggregate_type, aggregate_id) DO NOTHING",
                [aggregate, key, False],
            )
        lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
        placeholders = ", ".join(["%s"] * len(keys))
        cursor.execute(
            "SELECT aggregate_id, version FROM seam_aggregate_version"
            f" WHERE aggregate_type = %s AND aggregate_id IN ({placeholders}){lock}",
            [aggregate, *keys],
        )
        return {key: int(version) for key, version in cursor.fetchall()}


def wait_sent(up_to_seq: int, *, deadline_s: float, poll_s: float = 0.2) -> int:
    """Wait until the relay has sent every event up to `up_to_seq`; returns how many still wait."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = OutboxEvent.objects.filter(seq__lte=up_to_seq, sent_at__isnull=True).count()
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(poll_s)
