"""A payment's state machine and its money, as plain values: no database, no HTTP.

    authorised --capture--> captured --refund--> partially_refunded --refund--> refunded
        |                       (a refund of all that is left goes straight to refunded)
        +--void--> voided                  declined (the issuer refused the card): final

Any other move is refused with a `Refused` that the API answers as 409 and whose detail says what
the payment is and what it allows. Amounts are `Decimal` with two places, as in the monolith's
`payments.Payment.amount` (DecimalField(max_digits=12, decimal_places=2)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# max_digits=12 with two places: ten digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")
_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")


class Status(StrEnum):
    AUTHORISED = "authorised"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# The moves each status allows; the one table the checks and their messages read.
MOVES: dict[str, frozenset[Status]] = {
    "capture": frozenset({Status.AUTHORISED}),
    "void": frozenset({Status.AUTHORISED}),
    "refund": frozenset({Status.CAPTURED, Status.PARTIALLY_REFUNDED}),
}


class Refused(Exception):
    """A request the payment cannot take; `status` and `code` are what the API answers."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Balance:
    """What a payment holds: its status and its amounts."""

    status: Status
    amount: Decimal
    captured: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def refundable(self) -> Decimal:
        return self.captured - self.refunded


def parse_amount(value: object) -> Decimal:
    """A positive decimal string with at most two places ("12.5", "12.50"), as a Decimal with
    two places. JSON numbers are refused: a float cannot hold every amount of cents exactly."""
    if not isinstance(value, str):
        raise ValueError('an amount is a decimal string like "12.50", not a JSON number')
    if not _AMOUNT.fullmatch(value):
        raise ValueError(
            f'{value!r} is not an amount: write a positive decimal string like "12.50", '
            "with at most two decimal places"
        )
    amount = Decimal(value).quantize(CENT)
    if amount <= 0:
        raise ValueError("an amount must be more than 0")
    if amount > MAX_AMOUNT:
        raise ValueError(f"an amount is at most {MAX_AMOUNT}")
    return amount


def allowed(status: Status) -> list[str]:
    return sorted(move for move, sources in MOVES.items() if status in sources)


def _check(balance: Balance, move: str) -> None:
    if balance.status in MOVES[move]:
        return
    moves = allowed(balance.status)
    then = f"it allows {' and '.join(moves)}" if moves else "it is final and allows nothing"
    raise Refused(
        409, "illegal_transition", f"cannot {move} a payment that is {balance.status}; {then}"
    )


def authorise(amount: Decimal, decline_reason: str = "") -> Balance:
    return Balance(Status.DECLINED if decline_reason else Status.AUTHORISED, amount)


def capture(balance: Balance, amount: Decimal | None = None) -> Balance:
    """Capture all that was authorised, or part of it (the rest is released, as card networks
    do: a payment is captured once)."""
    _check(balance, "capture")
    amount = balance.amount if amount is None else amount
    if amount > balance.amount:
        raise Refused(
            409,
            "amount_too_large",
            f"cannot capture {amount}: only {balance.amount} was authorised; "
            f"capture at most {balance.amount}",
        )
    return replace(balance, status=Status.CAPTURED, captured=amount)


def void(balance: Balance) -> Balance:
    """Release an authorisation that will not be captured."""
    _check(balance, "void")
    return replace(balance, status=Status.VOIDED)


def refund(balance: Balance, amount: Decimal | None = None) -> Balance:
    """Give back all that is left of the captured amount, or part of it."""
    _check(balance, "refund")
    left = balance.refundable
    amount = left if amount is None else amount
    if amount > left:
        raise Refused(
            409,
            "amount_too_large",
            f"cannot refund {amount}: {left} is left to refund ({balance.captured} "
            f"captured, {balance.refunded} refunded); refund at most {left}",
        )
    refunded = balance.refunded + amount
    status = Status.REFUNDED if refunded == balance.captured else Status.PARTIALLY_REFUNDED
    return replace(balance, status=status, refunded=refunded)
