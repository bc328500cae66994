"""The payments service (extracted/payments) as a real process on PostgreSQL: its state machine,
and idempotency keys with the semantics of payment APIs (docs/payments.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests import services
from tests.extracted.stack import drop_postgres_database, free_port, postgres_database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def payments(tmp_path_factory):
    database = postgres_database(services.require(services.POSTGRES), "figkit_payments")
    var = tmp_path_factory.mktemp("payments")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(FIGKIT_VAR_DIR=str(var), PAYMENTS_DATABASE_URL=database, PAYMENTS_KEY_LEASE_S="2")
    log = open(var / "payments.log", "w")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, "-m", "extracted.payments", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            assert proc.poll() is None, (var / "payments.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            threading.Event().wait(0.2)
        with httpx.Client(base_url=url, timeout=15) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        drop_postgres_database(database)


def post(client: httpx.Client, path: str, body: dict | None = None, key: str | None = None) -> httpx.Response:
    return client.post(path, json=body or {}, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def authorised(client: httpx.Client, amount: str = "25.00", token: str = "tok_visa") -> dict:
    response = post(client, "/api/payments/authorise",
                    {"order_ref": f"ORD-{uuid.uuid4().hex[:6]}", "amount": amount, "currency": "EUR", "card_token": token})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def test_authorise_capture_and_refund_in_parts(payments):
    payment = authorised(payments)
    assert payment["status"] == "authorised"
    captured = post(payments, f"/api/payments/{payment['id']}/capture").json()
    assert (captured["status"], captured["captured_amount"]) == ("captured", "25.00")
    part = post(payments, f"/api/payments/{payment['id']}/refund", {"amount": "10.00"}).json()
    assert (part["status"], part["refunded_amount"]) == ("partially_refunded", "10.00")
    rest = post(payments, f"/api/payments/{payment['id']}/refund").json()
    assert (rest["status"], rest["refunded_amount"]) == ("refunded", "25.00")
    [found] = payments.get("/api/payments/", params={"order_ref": payment["order_ref"]}).json()["items"]
    assert found["status"] == "refunded"


def test_a_declined_card_is_a_402_with_the_declined_payment(payments):
    response = post(payments, "/api/payments/authorise",
                    {"order_ref": "ORD-D", "amount": "5.00", "currency": "EUR", "card_token": "tok_declined"})  # fmt: skip
    assert response.status_code == 402
    assert response.json()["status"] == "declined" and "declined" in response.json()["decline_reason"]


@pytest.mark.parametrize("first, move, body, status, error", [
    ("void", "capture", {}, 409, "illegal_transition"),
    ("capture", "void", {}, 409, "illegal_transition"),
    (None, "refund", {}, 409, "illegal_transition"),
    ("capture", "refund", {"amount": "25.01"}, 422, "amount_too_large"),
    (None, "capture", {"amount": "99.00"}, 422, "amount_too_large"),
    (None, "capture", {"amount": "-1"}, 422, "invalid_request"),
])  # fmt: skip
def test_an_illegal_move_is_refused_and_says_what_the_payment_allows(payments, first, move, body, status, error):
    payment = authorised(payments)
    if first:
        assert post(payments, f"/api/payments/{payment['id']}/{first}").status_code == 200
    response = post(payments, f"/api/payments/{payment['id']}/{move}", body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["detail"]
    if status == 409:
        assert "it allows" in response.json()["detail"]


def test_the_same_key_and_body_give_the_same_answer_and_charge_once(payments):
    body = {"order_ref": "ORD-SAME", "amount": "12.00", "currency": "EUR", "card_token": "tok_visa"}
    first = post(payments, "/api/payments/authorise", body, key="same-1")
    again = post(payments, "/api/payments/authorise", body, key="same-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(payments.get("/api/payments/", params={"order_ref": "ORD-SAME"}).json()["items"]) == 1


def test_the_same_key_with_another_body_is_a_422(payments):
    body = {"order_ref": "ORD-K", "amount": "12.00", "currency": "EUR", "card_token": "tok_visa"}
    assert post(payments, "/api/payments/authorise", body, key="reused-1").status_code == 201
    response = post(payments, "/api/payments/authorise", {**body, "amount": "13.00"}, key="reused-1")
    assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused"


def test_a_write_without_a_key_is_a_400_that_says_so(payments):
    response = payments.post("/api/payments/authorise", json={})
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["detail"]


def test_the_same_authorise_sent_20_times_at_once_charges_once(payments):
    """While the first runs (the slow card), the others are told 409 in_flight or, once it has
    answered, get its answer again."""
    body = {"order_ref": "ORD-RACE", "amount": "30.00", "currency": "EUR", "card_token": "tok_slow_300"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post(payments, "/api/payments/authorise", body, key="race-1"), range(20)))
    codes = sorted({a.status_code for a in answers})
    assert set(codes) <= {201, 409}, codes
    assert all(a.json()["error"] == "in_flight" for a in answers if a.status_code == 409)
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert len(payments.get("/api/payments/", params={"order_ref": "ORD-RACE"}).json()["items"]) == 1


def test_readiness_openapi_and_an_unknown_payment(payments):
    assert payments.get("/readyz").json()["status"] == "ready"
    paths = payments.get("/api/openapi.json").json()["paths"]
    assert {"/api/payments/authorise", "/api/payments/{payment_id}/refund"} <= set(paths)
    missing = payments.get(f"/api/payments/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
