"""The monolith's client of the payments service (extracted/payments), for the checkout saga.

One pooled keep-alive httpx client a process (created after a fork, so a Celery prefork child
never shares its parent's sockets), with connect and read timeouts: a payments service that
never answers costs a step PAYMENTS_READ_TIMEOUT_S, then the saga retries it with the same
idempotency key, or compensates. Every write carries an `Idempotency-Key`.
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings


class PaymentsUnsure(Exception):
    """The call may or may not have happened (a timeout, a 5xx, a request still in flight under
    the same key): try again with the same key."""


class PaymentRefused(Exception):
    """The payments service said no for good (a declined card, an illegal transition)."""

    def __init__(self, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.body = body or {}


_lock = threading.Lock()
_clients: dict[tuple, httpx.Client] = {}


def _client() -> httpx.Client:
    key = (os.getpid(), settings.PAYMENTS_URL, settings.PAYMENTS_CONNECT_TIMEOUT_S,
           settings.PAYMENTS_READ_TIMEOUT_S)  # fmt: skip
    with _lock:
        client = _clients.get(key)
        if client is None:
            # A parent's clients, inherited through fork, are never used here.
            for other in [k for k in _clients if k[0] != key[0]]:
                del _clients[other]
            client = _clients[key] = httpx.Client(
                base_url=settings.PAYMENTS_URL,
                timeout=httpx.Timeout(
                    connect=settings.PAYMENTS_CONNECT_TIMEOUT_S,
                    read=settings.PAYMENTS_READ_TIMEOUT_S,
                    write=settings.PAYMENTS_READ_TIMEOUT_S,
                    pool=settings.PAYMENTS_CONNECT_TIMEOUT_S,
                ),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            )
    return client


def _call(method: str, path: str, *, key: str | None = None, body: dict | None = None) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    try:
        response = _client().request(method, path, json=body, headers=headers)
    except httpx.TransportError as exc:  # connect refused, timeouts, a dropped connection
        raise PaymentsUnsure(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 500 or response.status_code == 429:
        raise PaymentsUnsure(f"{method} {path}: {response.status_code} {str(data)[:200]}")
    if response.status_code == 409 and data.get("error") in {
        "in_flight",
        "request_in_flight",
        "idempotency_in_flight",
    }:
        raise PaymentsUnsure(f"{method} {path}: the same request is still in flight")
    if response.status_code == 402:
        raise PaymentRefused(str(data.get("detail") or "payment declined"), data)
    if response.status_code >= 400:
        raise PaymentRefused(
            f"{method} {path}: {response.status_code} {data.get('detail') or data}", data
        )
    return data


def authorise(*, order_ref: str, amount: Decimal, card_token: str, key: str) -> dict:
    """The payment, authorised; PaymentRefused when the card is declined."""
    payment = _call("POST", "/api/payments/authorise", key=key, body={
        "order_ref": order_ref, "amount": str(amount), "currency": settings.SHOP_CURRENCY,
        "card_token": card_token,
    })  # fmt: skip
    if payment.get("status") == "declined":
        raise PaymentRefused(str(payment.get("decline_reason") or "payment declined"), payment)
    return payment


def capture(payment_id: str, *, key: str) -> dict:
    return _call("POST", f"/api/payments/{payment_id}/capture", key=key, body={})


def void(payment_id: str, *, key: str) -> dict:
    return _call("POST", f"/api/payments/{payment_id}/void", key=key, body={})


def refund(payment_id: str, *, key: str, amount: Decimal | None = None) -> dict:
    body = {} if amount is None else {"amount": str(amount)}
    return _call("POST", f"/api/payments/{payment_id}/refund", key=key, body=body)


def find(order_ref: str) -> list[dict]:
    """The payments made for an order: how a saga learns what a call whose reply was lost did."""
    found = _call("GET", f"/api/payments/?order_ref={order_ref}")
    return list(found.get("items", found) if isinstance(found, dict) else found)
