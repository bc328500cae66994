"""The payments API: authorise, capture, void and refund, each an idempotent POST.

    authorised --capture--> captured --refund--> partially_refunded --refund--> refunded
        |                                            (a full refund goes straight to refunded)
        +--void--> voided                  declined (a card the issuer refused): final

Any other move is a 409 `illegal_transition` that says what the payment is and what it allows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError
from pydantic import Field

from extracted.payments.models import Payment

api = NinjaAPI(title="Payments service", version="1.0", docs_url="/docs")

Money = Field(gt=0, max_digits=12, decimal_places=2)
S = Payment.Status
ALLOWED = {
    "capture": {S.AUTHORISED},
    "void": {S.AUTHORISED},
    "refund": {S.CAPTURED, S.PARTIALLY_REFUNDED},
}


class PaymentError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@api.exception_handler(PaymentError)
def _payment_error(request: HttpRequest, exc: PaymentError):
    return api.create_response(
        request, {"error": exc.code, "detail": exc.detail}, status=exc.status
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "payload", "query"))
    detail = (
        f"{where}: {first.get('msg', 'invalid')}"
        if where
        else str(first.get("msg", "invalid request"))
    )
    return api.create_response(request, {"error": "invalid_request", "detail": detail}, status=422)


class AuthoriseIn(Schema):
    order_ref: str = Field(min_length=1, max_length=64)
    amount: Decimal = Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    card_token: str = Field(min_length=1, max_length=100)


class AmountIn(Schema):
    amount: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)


class PaymentOut(Schema):
    id: UUID
    order_ref: str
    amount: Decimal
    currency: str
    status: str
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


def _decline_reason(token: str) -> str:
    """The sandbox's cards: tok_declined (and tok_declined_<why>) are refused by the issuer;
    anything that does not start with tok_ is not a card token."""
    if not token.startswith("tok_"):
        return "invalid card token"
    if token.startswith("tok_declined"):
        return "card declined by issuer"
    return ""


@api.post(
    "/payments/authorise",
    response={201: PaymentOut, 402: PaymentOut, 422: ErrorOut},
    tags=["payments"],
)
def authorise(request: HttpRequest, payload: AuthoriseIn):
    """Authorise AMOUNT on the card: 201 authorised, or 402 with the payment declined."""
    reason = _decline_reason(payload.card_token)
    payment = Payment.objects.create(
        order_ref=payload.order_ref, amount=payload.amount, currency=payload.currency,
        status=S.DECLINED if reason else S.AUTHORISED, decline_reason=reason,
    )  # fmt: skip
    return (402 if reason else 201), payment


def _locked(payment_id: UUID) -> Payment:
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise PaymentError(404, "not_found", f"no payment {payment_id}")
    return payment


def _check(payment: Payment, move: str) -> None:
    if payment.status not in ALLOWED[move]:
        allowed = sorted(m for m, states in ALLOWED.items() if payment.status in states) or [
            "nothing"
        ]
        raise PaymentError(409, "illegal_transition",
                           f"cannot {move} a payment that is {payment.status}; it allows {', '.join(allowed)}")  # fmt: skip


@api.post("/payments/{payment_id}/capture", response={200: PaymentOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, tags=["payments"])  # fmt: skip
def capture(request: HttpRequest, payment_id: UUID, payload: AmountIn | None = None):
    """Capture the authorised amount, or part of it."""
    with transaction.atomic():
        payment = _locked(payment_id)
        _check(payment, "capture")
        amount = payload.amount if payload and payload.amount is not None else payment.amount
        if amount > payment.amount:
            raise PaymentError(
                422,
                "amount_too_large",
                f"capture {amount} is more than the {payment.amount} authorised",
            )
        payment.status, payment.captured_amount, payment.updated_at = (
            S.CAPTURED,
            amount,
            timezone.now(),
        )
        payment.save()
    return payment


@api.post(
    "/payments/{payment_id}/void",
    response={200: PaymentOut, 404: ErrorOut, 409: ErrorOut},
    tags=["payments"],
)
def void(request: HttpRequest, payment_id: UUID):
    """Release an authorisation that will not be captured."""
    with transaction.atomic():
        payment = _locked(payment_id)
        _check(payment, "void")
        payment.status, payment.updated_at = S.VOIDED, timezone.now()
        payment.save()
    return payment


@api.post("/payments/{payment_id}/refund", response={200: PaymentOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, tags=["payments"])  # fmt: skip
def refund(request: HttpRequest, payment_id: UUID, payload: AmountIn | None = None):
    """Refund what is left of the captured amount, or part of it."""
    with transaction.atomic():
        payment = _locked(payment_id)
        _check(payment, "refund")
        left = payment.captured_amount - payment.refunded_amount
        amount = payload.amount if payload and payload.amount is not None else left
        if amount > left:
            raise PaymentError(
                422, "amount_too_large", f"refund {amount} is more than the {left} left to refund"
            )
        payment.refunded_amount += amount
        payment.status = (
            S.REFUNDED
            if payment.refunded_amount == payment.captured_amount
            else S.PARTIALLY_REFUNDED
        )
        payment.updated_at = timezone.now()
        payment.save()
    return payment


@api.get("/payments/", response=PaymentList, tags=["payments"])
def find(request: HttpRequest, order_ref: str):
    """The payments of an order: what a caller whose reply was lost looks up."""
    return {"items": list(Payment.objects.filter(order_ref=order_ref))}


@api.get("/payments/{payment_id}", response={200: PaymentOut, 404: ErrorOut}, tags=["payments"])
def get(request: HttpRequest, payment_id: UUID):
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise PaymentError(404, "not_found", f"no payment {payment_id}")
    return payment
