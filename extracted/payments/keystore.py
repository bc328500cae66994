"""The idempotency keys in the service's database: take a key for a request, keep its answer,
let it go, forget old ones. The rules they follow are in `idempotency.py`.

Correct under concurrency on PostgreSQL and on SQLite:

- a key is taken by inserting its row (primary key: the key) in a transaction of its own, which
  commits before the work starts, so a concurrent request with the same key sees it in flight;
  two inserting at once cannot both succeed, and the loser looks again;
- an existing row is read `SELECT ... FOR UPDATE` (on SQLite, a BEGIN IMMEDIATE transaction
  holds the database's write lock instead), so deciding and taking over are one step;
- the request that holds the key is named in `owner`; its answer is kept only if it still owns
  the key (`UPDATE ... WHERE owner = me`), in the transaction that did the work: a request that
  outlived its lease and lost the key to a retry has its work rolled back, never done twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from extracted.payments.idempotency import Verdict, decide
from extracted.payments.models import IdempotencyKey

CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """What taking a key gave: `owner` to run under, or the verdict and the row it came from."""

    verdict: Verdict
    owner: str = ""
    row: IdempotencyKey | None = None


def claim(key: str, mark: str, request: str) -> Claim:
    """Take the key for a request, or say why not."""
    lease = timedelta(seconds=settings.PAYMENTS_KEY_LEASE_S)
    owner = uuid.uuid4().hex
    for _ in range(CLAIM_ATTEMPTS):
        now = timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.select_for_update().filter(key=key).first()
                verdict = decide(row.held if row else None, mark, now)
                if verdict is Verdict.RUN:
                    IdempotencyKey.objects.create(
                        key=key,
                        fingerprint=mark,
                        request=request,
                        owner=owner,
                        lease_until=now + lease,
                    )
                elif verdict is Verdict.TAKE_OVER and row is not None:
                    row.owner, row.lease_until = owner, now + lease
                    row.save(update_fields=["owner", "lease_until"])
                else:
                    return Claim(verdict, row=row)
            return Claim(verdict, owner=owner)
        except IntegrityError:  # another request inserted the key meanwhile: look again
            continue
    return Claim(Verdict.IN_FLIGHT)


def keep(key: str, owner: str, response: HttpResponse) -> bool:
    """Keep the answer for the key's retries, in the caller's transaction; False when the key is
    no longer this request's (a retry took it over after its lease ran out)."""
    updated = IdempotencyKey.objects.filter(key=key, owner=owner, in_flight=True).update(
        in_flight=False,
        status_code=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=response.content.decode("utf-8", "replace"),
    )
    return updated == 1


def release(key: str, owner: str) -> None:
    """Let the key go, when nothing is kept for it: a retry will run as if it were new."""
    IdempotencyKey.objects.filter(key=key, owner=owner, in_flight=True).delete()


def replay(row: IdempotencyKey) -> HttpResponse:
    return HttpResponse(row.body, status=row.status_code or 200, content_type=row.content_type)


def prune(older_than: timedelta | None = None) -> int:
    """Forget keys first used longer ago than the retention (PAYMENTS_KEY_RETENTION_HOURS),
    but never one whose request still holds it; how many were forgotten."""
    now = timezone.now()
    age = (
        timedelta(hours=settings.PAYMENTS_KEY_RETENTION_HOURS) if older_than is None else older_than
    )
    deleted, _ = (
        IdempotencyKey.objects.filter(created_at__lt=now - age)
        .exclude(in_flight=True, lease_until__gt=now)
        .delete()
    )
    return deleted
