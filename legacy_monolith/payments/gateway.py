"""A stand-in card gateway with test tokens, like the sandboxes of real providers.

tok_visa succeeds, tok_declined is refused, anything else that starts with tok_ succeeds.
"""

from dataclasses import dataclass
from decimal import Decimal

from legacy_monolith.core.utils import generate_number


class PaymentDeclined(Exception):
    pass


@dataclass(frozen=True)
class Charge:
    reference: str
    amount: Decimal


def charge(token: str, amount: Decimal) -> Charge:
    if not token.startswith("tok_"):
        raise PaymentDeclined("invalid card token")
    if token == "tok_declined":
        raise PaymentDeclined("card declined by issuer")
    return Charge(reference=generate_number("PAY"), amount=amount)


def refund(reference: str, amount: Decimal) -> str:
    return generate_number("RFD")
