"""The payments API: authorise, capture, void and refund, each a POST with an Idempotency-Key
(`middleware.py`), and two reads. The moves themselves are `lifecycle.py`'s; this module only
reads the request, locks the payment and writes it back.

Every error is `{"error": code, "detail": one line saying what is wrong and what to do}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from extracted.payments import lifecycle, sandbox
from extracted.payments.lifecycle import Balance, Refused
from extracted.payments.middleware import not_started
from extracted.payments.models import Payment

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Payments service",
    version="1.0",
    docs_url="/docs",
    description="Authorise, capture, void and refund payments. Every POST needs an "
    "Idempotency-Key header (docs/payments.md).",
)


def _currency(value: object) -> str:
    if not (isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value)):
        raise ValueError(f"{value!r} is not a currency: three capital letters (ISO 4217), like EUR")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(lifecycle.parse_amount),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "examples": ["25.00"]}),
]
Currency = Annotated[
    str, BeforeValidator(_currency), WithJsonSchema({"type": "string", "examples": ["EUR"]})
]


class Body(Schema):
    # A misspelt field ("ammount") is refused, not ignored: ignored, it would capture everything.
    model_config = ConfigDict(extra="forbid")


class AuthoriseIn(Body):
    order_ref: str = Field(min_length=1, max_length=64)
    amount: Amount
    currency: Currency
    card_token: str = Field(min_length=1, max_length=100)


class AmountIn(Body):
    amount: Amount | None = None


class PaymentOut(Schema):
    id: UUID
    order_ref: str
    amount: Decimal
    currency: str
    status: lifecycle.Status
    captured_amount: Decimal
    refunded_amount: Decimal
    decline_reason: str
    created_at: datetime
    updated_at: datetime


class PaymentList(Schema):
    items: list[PaymentOut]


class ErrorOut(Schema):
    error: str
    detail: str


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    return api.create_response(request, {"error": code, "detail": detail}, status=status)


@api.exception_handler(Refused)
def _refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.detail)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in {"body", "payload", "query"})
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    message = {
        "extra_forbidden": "not a field of this request (a typo?)",
        "missing": "required",
        "model_attributes_type": "the body must be a JSON object",
    }.get(first.get("type", ""), message)
    detail = f"{where}: {message}" if where else message
    return not_started(_error(request, 422, "invalid_request", detail))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """Ninja's own refusals, such as a body that is not JSON."""
    detail = f"{exc}; send a JSON object" if exc.status_code == 400 else str(exc)
    return not_started(_error(request, exc.status_code, "invalid_request", detail))


@api.exception_handler(Exception)
def _failed(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("%s %s failed", request.method, request.path)
    return _error(
        request,
        500,
        "server_error",
        f"the payments service failed ({type(exc).__name__}: {exc}); nothing was kept, "
        "so send the request again with the same Idempotency-Key",
    )


def _payment(payment_id: str, *, for_update: bool = False) -> Payment:
    found = None
    try:
        payments = Payment.objects.select_for_update() if for_update else Payment.objects
        found = payments.filter(pk=UUID(payment_id)).first()
    except ValueError:
        pass
    if found is None:
        raise Refused(
            404,
            "not_found",
            f"no payment {payment_id!r}; an order's payments are at "
            "GET /api/payments/?order_ref=<order>",
        )
    return found


@api.post(
    "/payments/authorise",
    response={201: PaymentOut, 402: PaymentOut, 422: ErrorOut},
    tags=["payments"],
)
def authorise(request: HttpRequest, payload: AuthoriseIn):
    """Authorise `amount` on the card: 201 with the payment `authorised`, or, when the issuer
    refuses the card, 402 with the payment `declined` and its `decline_reason`."""
    reason = sandbox.decline_reason(payload.card_token)
    payment = Payment(
        order_ref=payload.order_ref,
        amount=payload.amount,
        currency=payload.currency,
        decline_reason=reason,
    )
    payment.balance = lifecycle.authorise(payload.amount, reason)
    payment.save(force_insert=True)
    sandbox.fail_after_work(payload.card_token)
    return (402 if reason else 201), payment


def _move(payment_id: str, move: Callable[..., Balance], *args: object) -> Payment:
    with transaction.atomic():
        payment = _payment(payment_id, for_update=True)
        payment.balance = move(payment.balance, *args)
        payment.save()
    return payment


MOVE_ANSWERS = {200: PaymentOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@api.post("/payments/{payment_id}/capture", response=MOVE_ANSWERS, tags=["payments"])
def capture(request: HttpRequest, payment_id: str, payload: AmountIn | None = None):
    """Capture all that was authorised, or `amount` of it; 409 if the payment is not
    `authorised` or the amount is more than was authorised."""
    return _move(payment_id, lifecycle.capture, payload.amount if payload else None)


@api.post("/payments/{payment_id}/void", response=MOVE_ANSWERS, tags=["payments"])
def void(request: HttpRequest, payment_id: str):
    """Release an authorisation that will not be captured; 409 unless it is `authorised`."""
    return _move(payment_id, lifecycle.void)


@api.post("/payments/{payment_id}/refund", response=MOVE_ANSWERS, tags=["payments"])
def refund(request: HttpRequest, payment_id: str, payload: AmountIn | None = None):
    """Refund all that is left of the captured amount, or `amount` of it; 409 if nothing was
    captured or the amount is more than is left."""
    return _move(payment_id, lifecycle.refund, payload.amount if payload else None)


@api.get("/payments/", response={200: PaymentList, 422: ErrorOut}, tags=["payments"])
def find(request: HttpRequest, order_ref: str):
    """An order's payments, oldest first: how a caller whose reply was lost learns what
    happened."""
    return {"items": list(Payment.objects.filter(order_ref=order_ref))}


@api.get("/payments/{payment_id}", response={200: PaymentOut, 404: ErrorOut}, tags=["payments"])
def get(request: HttpRequest, payment_id: str):
    return _payment(payment_id)
