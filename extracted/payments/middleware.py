"""Every POST to the API goes through idempotency keys (the table in `idempotency.py`).

The request's work and the keeping of its answer commit in one transaction, so a server killed
in between leaves neither: no charge without its answer, no answer without its charge; the key,
taken before, is then in flight until its lease (PAYMENTS_KEY_LEASE_S) runs out, and a retry
takes it over.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from extracted.payments import keystore, sandbox
from extracted.payments.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    Verdict,
    fingerprint,
    keeps,
    key_problem,
)

_NOT_STARTED = "payments_not_started"


def not_started(response: HttpResponse) -> HttpResponse:
    """Mark an answer given before the endpoint started on the request (its body did not parse
    or validate): nothing is kept for its key."""
    setattr(response, _NOT_STARTED, True)
    return response


def error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


class _Discard(Exception):
    """Roll the work back and answer `response`, keeping nothing for the key."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not _is_endpoint(request):
            return self.get_response(request)
        key = request.headers.get(HEADER, "").strip()
        if problem := key_problem(key):
            return error(
                400, "idempotency_key_missing" if not key else "idempotency_key_invalid", problem
            )
        what = f"{request.method} {request.path}"
        taken = keystore.claim(key, fingerprint(request.method, request.path, request.body), what)
        if taken.verdict not in (Verdict.RUN, Verdict.TAKE_OVER):
            return _refusal(taken, key, what)
        # The issuer's latency (the sandbox's slow cards) is waited out before the transaction,
        # as a real gateway call would be: a slow card holds no lock.
        sandbox.wait_for_issuer(request.body)
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if not keeps(response.status_code, not getattr(response, _NOT_STARTED, False)):
                    raise _Discard(response)
                if not keystore.keep(key, taken.owner, response):
                    raise _Discard(_in_flight(key, taken_over=True))
        except _Discard as discarded:
            keystore.release(key, taken.owner)
            return discarded.response
        except BaseException:
            keystore.release(key, taken.owner)
            raise
        return response


def _is_endpoint(request: HttpRequest) -> bool:
    if not request.path_info.startswith("/api/"):
        return False
    try:
        resolve(request.path_info)
    except Resolver404:
        return False
    return True


def _refusal(taken: keystore.Claim, key: str, what: str) -> HttpResponse:
    row = taken.row
    if taken.verdict is Verdict.REPLAY and row is not None:
        response = keystore.replay(row)
        response[REPLAYED_HEADER] = "true"
        return response
    if taken.verdict is Verdict.REUSED and row is not None:
        first = "the same path with another body" if row.request == what else row.request
        return error(
            422,
            "idempotency_key_reused",
            f"{HEADER} {key!r} was first used for another request ({first}); "
            "send a new key for a new operation",
        )
    return _in_flight(key)


def _in_flight(key: str, taken_over: bool = False) -> HttpResponse:
    detail = (
        f"a retry took {HEADER} {key!r} over while this request ran past its lease "
        "(PAYMENTS_KEY_LEASE_S); nothing was done here: send it again unchanged for the answer"
        if taken_over
        else f"a request with {HEADER} {key!r} is still running; send it again unchanged in a moment"
    )
    response = error(409, "in_flight", detail)
    response["Retry-After"] = "1"
    return response
