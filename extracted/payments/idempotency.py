"""Idempotency keys on every write, with the semantics users know from payment APIs (Stripe's):

| a POST with key K                                  | answer                                      |
|----------------------------------------------------|---------------------------------------------|
| no Idempotency-Key header                          | 400: every write needs one                  |
| K new                                              | the request runs; its answer is kept        |
| K seen, same method, path and body, answered       | the kept answer again (Idempotent-Replayed) |
| K seen with another method, path or body           | 422: a key is for one request               |
| K seen, its first request still running            | 409 in_flight: retry after a moment         |
| K seen, its first request died mid-way (lease out) | the request runs again (nothing was kept)   |
| K's first request answered 5xx                     | nothing kept: a retry runs again            |

The request's work and the keeping of its answer commit in one transaction, so a server killed
in between leaves neither: no charge without its answer, no answer without its charge.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from extracted.payments.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
SLOW_CARD_PREFIX = (
    "tok_slow_"  # the sandbox's slow card: tok_slow_<ms> answers after ms (at most 10 s)
)


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def fingerprint(request: HttpRequest) -> str:
    try:
        body = json.dumps(json.loads(request.body or b"{}"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        body = request.body.decode("latin-1")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


class IdempotencyMiddleware:
    """Applies the table above to every POST under /api/."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return _error(400, "idempotency_key_missing",
                          f"every write needs an {HEADER} header: a unique string per operation, the same on its retries")  # fmt: skip
        if len(key) > MAX_KEY_LENGTH:
            return _error(
                400, "idempotency_key_too_long", f"{HEADER} is at most {MAX_KEY_LENGTH} characters"
            )
        mark = fingerprint(request)
        claimed = _claim(key, mark)
        if isinstance(claimed, HttpResponse):
            return claimed
        _slow_card(request)
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    raise _ServerError(response)
                IdempotencyKey.objects.filter(key=key).update(
                    in_flight=False, status_code=response.status_code,
                    response=json.loads(response.content or b"null"),
                )  # fmt: skip
        except _ServerError as failed:
            IdempotencyKey.objects.filter(key=key, in_flight=True).delete()
            return failed.response
        except BaseException:
            IdempotencyKey.objects.filter(key=key, in_flight=True).delete()
            raise
        return response


class _ServerError(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _claim(key: str, mark: str) -> HttpResponse | None:
    """Take the key for this request (None), or the answer to give instead."""
    now = timezone.now()
    lease = timedelta(seconds=settings.PAYMENTS_KEY_LEASE_S)
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(key=key, fingerprint=mark, lease_until=now + lease)
        return None
    except IntegrityError:
        pass
    with transaction.atomic():
        row = IdempotencyKey.objects.select_for_update().filter(key=key).first()
        if row is None:  # its first request failed and let it go meanwhile: take it
            IdempotencyKey.objects.create(key=key, fingerprint=mark, lease_until=now + lease)
            return None
        if row.fingerprint != mark:
            return _error(422, "idempotency_key_reused",
                          f"{HEADER} {key!r} was used for a different request (another path or body); use a new key for a new operation")  # fmt: skip
        if not row.in_flight:
            replay = JsonResponse(row.response, status=row.status_code, safe=False)
            replay["Idempotent-Replayed"] = "true"
            return replay
        if row.lease_until > now:
            response = _error(409, "in_flight",
                              f"a request with {HEADER} {key!r} is still being processed; retry in a moment")  # fmt: skip
            response["Retry-After"] = "1"
            return response
        row.lease_until = now + lease  # its first request died: this one takes over
        row.save(update_fields=["lease_until"])
        return None


def _slow_card(request: HttpRequest) -> None:
    """tok_slow_<ms>: the sandbox answers late, to test timeouts (outside any transaction)."""
    try:
        token = json.loads(request.body or b"{}").get("card_token", "")
    except (ValueError, AttributeError):
        return
    if isinstance(token, str) and token.startswith(SLOW_CARD_PREFIX):
        with contextlib.suppress(ValueError):
            time.sleep(min(int(token.removeprefix(SLOW_CARD_PREFIX)), 10_000) / 1000)


def prune(older_than: timedelta | None = None) -> int:
    """Forget answered keys past their retention; how many."""
    age = older_than or timedelta(hours=settings.PAYMENTS_KEY_RETENTION_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(
        in_flight=False, created_at__lt=timezone.now() - age
    ).delete()
    return deleted
