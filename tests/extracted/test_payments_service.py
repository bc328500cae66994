"""The payments service (extracted/payments, docs/payments.md): its state machine and money as
plain values, then the service as a real process on loopback, on its default SQLite file and on
PostgreSQL (a fresh database for the module), its idempotency keys tried as callers retry:
twice in a row, twenty at once, after a 5xx, after a bad body, past a lease, after a kill."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from extracted.payments import lifecycle
from extracted.payments.idempotency import Held, Verdict, decide, fingerprint, keeps
from extracted.payments.lifecycle import Balance, Refused, Status
from tests import services
from tests.extracted.payments_process import PaymentsProcess, payments_service, service_env
from tests.extracted.stack import drop_postgres_database, postgres_database

LEASE_S = 2.0

# The state machine of docs/payments.md: every move it draws, and no other.
EDGES = {
    (Status.AUTHORISED, "capture"): Status.CAPTURED,
    (Status.AUTHORISED, "void"): Status.VOIDED,
    (Status.CAPTURED, "refund"): Status.REFUNDED,
    (Status.PARTIALLY_REFUNDED, "refund"): Status.REFUNDED,
}
MOVES = {"capture": lifecycle.capture, "void": lifecycle.void, "refund": lifecycle.refund}


def balance_in(status: Status) -> Balance:
    captured = {
        Status.CAPTURED: "25.00",
        Status.PARTIALLY_REFUNDED: "25.00",
        Status.REFUNDED: "25.00",
    }
    refunded = {Status.PARTIALLY_REFUNDED: "5.00", Status.REFUNDED: "25.00"}
    return Balance(
        status,
        Decimal("25.00"),
        Decimal(captured.get(status, "0.00")),
        Decimal(refunded.get(status, "0.00")),
    )


# The state machine and money, as plain values


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("move", list(MOVES))
def test_a_payment_moves_only_along_the_edges_of_the_state_machine(status, move):
    if (status, move) in EDGES:
        assert MOVES[move](balance_in(status)).status == EDGES[status, move]
        return
    with pytest.raises(Refused) as refused:
        MOVES[move](balance_in(status))
    assert (refused.value.status, refused.value.code) == (409, "illegal_transition")
    assert f"cannot {move} a payment that is {status}" in refused.value.detail
    assert ("allows" in refused.value.detail) and "\n" not in refused.value.detail


def test_partial_refunds_add_up_to_refunded_and_not_a_cent_more():
    paid = lifecycle.capture(lifecycle.authorise(Decimal("30.00")), Decimal("25.00"))
    part = lifecycle.refund(paid, Decimal("10.00"))
    assert (part.status, part.refunded, part.refundable) == (
        Status.PARTIALLY_REFUNDED,
        Decimal("10.00"),
        Decimal("15.00"),
    )
    with pytest.raises(
        Refused, match=r"cannot refund 15.01: 15.00 is left .* refund at most 15.00"
    ):
        lifecycle.refund(part, Decimal("15.01"))
    assert lifecycle.refund(part).status == Status.REFUNDED
    with pytest.raises(Refused, match="capture at most 30.00") as refused:
        lifecycle.capture(lifecycle.authorise(Decimal("30.00")), Decimal("30.01"))
    assert (refused.value.status, refused.value.code) == (409, "amount_too_large")


@pytest.mark.parametrize(
    "text, amount",
    [("12.5", "12.50"), ("0.01", "0.01"), ("7", "7.00"), ("9999999999.99", "9999999999.99")],
)
def test_an_amount_is_a_decimal_string_kept_to_the_cent(text, amount):
    assert str(lifecycle.parse_amount(text)) == amount


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-1",
        "0",
        "0.00",
        "1.001",
        "1e3",
        "NaN",
        "",
        " 5",
        "10000000000.00",
        12.5,
        12,
        None,
        True,
    ],
)
def test_anything_else_is_not_an_amount(value):
    with pytest.raises(ValueError):
        lifecycle.parse_amount(value)


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("held, verdict", [
    (None, Verdict.RUN),
    (Held("other", answered=True, lease_until=NOW), Verdict.REUSED),
    (Held("other", answered=False, lease_until=NOW + timedelta(seconds=9)), Verdict.REUSED),
    (Held("mark", answered=True, lease_until=NOW - timedelta(hours=1)), Verdict.REPLAY),
    (Held("mark", answered=False, lease_until=NOW + timedelta(seconds=1)), Verdict.IN_FLIGHT),
    (Held("mark", answered=False, lease_until=NOW - timedelta(seconds=1)), Verdict.TAKE_OVER),
])  # fmt: skip
def test_what_a_key_already_held_means_for_the_next_request_with_it(held, verdict):
    assert decide(held, "mark", NOW) is verdict


def test_a_fingerprint_ignores_key_order_and_spacing_but_not_path_or_values():
    mark = fingerprint("POST", "/api/payments/authorise", b'{"a": "1", "b": "2"}')
    assert mark == fingerprint("POST", "/api/payments/authorise", b'{"b":"2","a":"1"}')
    assert mark != fingerprint("POST", "/api/payments/authorise", b'{"a": "1", "b": "3"}')
    assert mark != fingerprint("POST", "/api/payments/other", b'{"a": "1", "b": "2"}')


def test_answers_are_kept_once_the_endpoint_started_unless_it_failed_with_a_5xx():
    kept = {status for status in (201, 402, 404, 409, 500, 503) if keeps(status, started=True)}
    assert kept == {201, 402, 404, 409}
    assert not keeps(422, started=False)


# The service as a process


@dataclass
class Payments:
    client: httpx.Client
    service: PaymentsProcess


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def payments(request, tmp_path_factory):
    var = tmp_path_factory.mktemp(f"payments-{request.param}")
    settings = {"PAYMENTS_KEY_LEASE_S": str(LEASE_S)}
    database = None
    if request.param == "postgresql":
        database = postgres_database(services.require(services.POSTGRES), "figkit_payments")
        settings["PAYMENTS_DATABASE_URL"] = database
    try:
        with (
            payments_service(var, **settings) as service,
            httpx.Client(base_url=service.url, timeout=20) as client,
        ):
            yield Payments(client, service)
    finally:
        if database:
            drop_postgres_database(database)


def post(
    payments: Payments, path: str, body: dict | None = None, key: str | None = None
) -> httpx.Response:
    return payments.client.post(
        path,
        json={} if body is None else body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def order() -> str:
    return f"ORD-{uuid.uuid4().hex[:8]}"


def card(amount: str = "25.00", token: str = "tok_visa", order_ref: str | None = None) -> dict:
    return {
        "order_ref": order_ref or order(),
        "amount": amount,
        "currency": "EUR",
        "card_token": token,
    }


def authorised(payments: Payments, amount: str = "25.00") -> dict:
    response = post(payments, "/api/payments/authorise", card(amount))
    assert response.status_code == 201, response.text
    return response.json()


def payments_of(payments: Payments, order_ref: str) -> list[dict]:
    response = payments.client.get("/api/payments/", params={"order_ref": order_ref})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_authorise_capture_then_refund_in_parts(payments):
    payment = authorised(payments, "25.00")
    assert (payment["status"], payment["amount"], payment["captured_amount"]) == (
        "authorised",
        "25.00",
        "0.00",
    )
    captured = post(payments, f"/api/payments/{payment['id']}/capture", {"amount": "20"}).json()
    assert (captured["status"], captured["captured_amount"]) == ("captured", "20.00")
    part = post(payments, f"/api/payments/{payment['id']}/refund", {"amount": "7.5"}).json()
    assert (part["status"], part["refunded_amount"]) == ("partially_refunded", "7.50")
    rest = post(payments, f"/api/payments/{payment['id']}/refund").json()
    assert (rest["status"], rest["refunded_amount"]) == ("refunded", "20.00")
    [found] = payments_of(payments, payment["order_ref"])
    assert found == rest == payments.client.get(f"/api/payments/{payment['id']}").json()


def test_a_void_releases_an_authorisation(payments):
    payment = authorised(payments)
    voided = post(payments, f"/api/payments/{payment['id']}/void")
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert voided.json()["captured_amount"] == "0.00"


def test_a_declined_card_is_a_402_with_the_declined_payment_and_a_retry_gets_the_402_again(
    payments,
):
    body = card(token="tok_decline_insufficient_funds")
    first = post(payments, "/api/payments/authorise", body, key=f"decline-{body['order_ref']}")
    again = post(payments, "/api/payments/authorise", body, key=f"decline-{body['order_ref']}")
    assert (first.status_code, again.status_code) == (402, 402)
    assert (
        first.json()["status"] == "declined"
        and first.json()["decline_reason"] == "card declined by issuer"
    )
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(payments_of(payments, body["order_ref"])) == 1


@pytest.mark.parametrize("before, move, body, error", [
    (["void"], "capture", {}, "illegal_transition"),
    (["capture"], "void", {}, "illegal_transition"),
    (["capture"], "capture", {}, "illegal_transition"),
    (["void"], "void", {}, "illegal_transition"),
    ([], "refund", {}, "illegal_transition"),
    (["void"], "refund", {}, "illegal_transition"),
    (["capture", "refund"], "refund", {"amount": "0.01"}, "illegal_transition"),
    ([], "capture", {"amount": "25.01"}, "amount_too_large"),
    (["capture"], "refund", {"amount": "25.01"}, "amount_too_large"),
])  # fmt: skip
def test_an_illegal_move_is_a_409_saying_what_the_payment_allows(
    payments, before, move, body, error
):
    payment = authorised(payments, "25.00")
    for step in before:
        payment = post(payments, f"/api/payments/{payment['id']}/{step}").json()
    response = post(payments, f"/api/payments/{payment['id']}/{move}", body)
    assert response.status_code == 409, response.text
    assert response.json()["error"] == error
    assert ("allows" in response.json()["detail"]) or ("at most" in response.json()["detail"])
    assert payments.client.get(f"/api/payments/{payment['id']}").json() == payment, "nothing moved"


def test_a_declined_payment_is_final(payments):
    declined = post(payments, "/api/payments/authorise", card(token="tok_declined")).json()
    response = post(payments, f"/api/payments/{declined['id']}/capture")
    assert response.status_code == 409 and "it is final" in response.json()["detail"]


@pytest.mark.parametrize("body, names", [
    ({**card(), "amount": "abc"}, "amount"),
    ({**card(), "amount": "-1.00"}, "amount"),
    ({**card(), "amount": "0"}, "amount"),
    ({**card(), "amount": "1.001"}, "amount"),
    ({**card(), "amount": 12.5}, "amount"),
    ({**card(), "amount": "99999999999.00"}, "amount"),
    ({k: v for k, v in card().items() if k != "amount"}, "amount"),
    ({**card(), "currency": "eur"}, "currency"),
    ({**card(), "order_ref": ""}, "order_ref"),
    ({**card(), "ammount": "5.00"}, "ammount"),
    ([], "JSON object"),
])  # fmt: skip
def test_bad_input_is_a_422_whose_one_line_names_the_field(payments, body, names):
    response = post(payments, "/api/payments/authorise", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert names in response.json()["detail"] and "\n" not in response.json()["detail"]


def test_a_bad_amount_on_capture_or_refund_is_a_422_and_moves_nothing(payments):
    payment = authorised(payments)
    for move, amount in [("capture", "-5"), ("capture", "x"), ("refund", "0.001")]:
        response = post(payments, f"/api/payments/{payment['id']}/{move}", {"amount": amount})
        assert response.status_code == 422 and response.json()["detail"].startswith("amount: ")
    assert payments.client.get(f"/api/payments/{payment['id']}").json()["status"] == "authorised"


def test_a_body_that_is_not_json_is_a_400(payments):
    response = payments.client.post(
        "/api/payments/authorise",
        content=b"amount=5",
        headers={"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("payment_id", [str(uuid.uuid4()), "not-a-payment"])
def test_an_unknown_payment_is_a_404_that_says_where_to_look(payments, payment_id):
    for response in [
        payments.client.get(f"/api/payments/{payment_id}"),
        post(payments, f"/api/payments/{payment_id}/capture"),
    ]:
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found" and "order_ref" in response.json()["detail"]


# Idempotency keys


def test_the_same_key_and_body_give_the_same_answer_and_charge_once(payments):
    body = card()
    first = post(payments, "/api/payments/authorise", body, key=f"same-{body['order_ref']}")
    reordered = dict(reversed(list(body.items())))
    again = post(payments, "/api/payments/authorise", reordered, key=f"same-{body['order_ref']}")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(payments_of(payments, body["order_ref"])) == 1


def test_a_replayed_capture_or_refund_moves_the_money_once(payments):
    payment = authorised(payments, "25.00")
    for move, amount, moved in [("capture", "10.00", "captured_amount"),
                                ("refund", "4.00", "refunded_amount")]:  # fmt: skip
        path, key = f"/api/payments/{payment['id']}/{move}", f"{move}-{payment['id']}"
        first, again = [post(payments, path, {"amount": amount}, key=key) for _ in range(2)]
        assert first.status_code == again.status_code == 200 and again.json() == first.json()
        assert again.json()[moved] == amount and again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_or_path_is_a_422(payments):
    body = card()
    key = f"reused-{body['order_ref']}"
    assert post(payments, "/api/payments/authorise", body, key=key).status_code == 201
    other_body = post(payments, "/api/payments/authorise", {**body, "amount": "13.00"}, key=key)
    assert other_body.status_code == 422 and other_body.json()["error"] == "idempotency_key_reused"
    assert "another body" in other_body.json()["detail"]
    payment = payments_of(payments, body["order_ref"])[0]
    other_path = post(payments, f"/api/payments/{payment['id']}/void", {}, key=key)
    assert (
        other_path.status_code == 422 and "/api/payments/authorise" in other_path.json()["detail"]
    )
    assert payments_of(payments, body["order_ref"])[0]["status"] == "authorised"


@pytest.mark.parametrize(
    "headers, said",
    [
        ({}, "every write needs an Idempotency-Key"),
        ({"Idempotency-Key": ""}, "every write needs"),
        ({"Idempotency-Key": "k" * 256}, "at most 255"),
    ],
)
def test_a_write_without_a_usable_key_is_a_400_that_says_so(payments, headers, said):
    body = card()
    response = payments.client.post("/api/payments/authorise", json=body, headers=headers)
    assert response.status_code == 400 and said in response.json()["detail"]
    assert payments_of(payments, body["order_ref"]) == []


def test_the_same_authorise_sent_20_times_at_once_charges_once(payments):
    """While the first runs (a slow card), the others are told 409 in_flight; once it has
    answered, they get its answer again."""
    body = card(token="tok_slow_300")
    key = f"race-{body['order_ref']}"
    start = threading.Barrier(20)

    def send(_: int) -> httpx.Response:
        start.wait()
        return post(payments, "/api/payments/authorise", body, key=key)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    in_flight = [a for a in answers if a.status_code == 409]
    assert in_flight and all(
        a.json()["error"] == "in_flight" and a.headers["Retry-After"] for a in in_flight
    )
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert len(payments_of(payments, body["order_ref"])) == 1
    after = post(payments, "/api/payments/authorise", body, key=key)
    assert after.status_code == 201 and after.headers["Idempotent-Replayed"] == "true"


def test_a_5xx_keeps_nothing_so_a_retry_under_the_same_key_runs_again(payments):
    body = card(token="tok_server_error")
    key = f"5xx-{body['order_ref']}"
    failed = post(payments, "/api/payments/authorise", body, key=key)
    assert failed.status_code == 500 and failed.json()["error"] == "server_error"
    assert payments_of(payments, body["order_ref"]) == [], "the work of a 5xx is rolled back"
    # Nothing was kept for the key: not even its body, so a corrected request may use it.
    retried = post(payments, "/api/payments/authorise", {**body, "card_token": "tok_visa"}, key=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert len(payments_of(payments, body["order_ref"])) == 1


def test_a_body_that_did_not_validate_keeps_nothing_so_the_fixed_one_may_use_the_key(payments):
    body = card()
    key = f"fix-{body['order_ref']}"
    invalid = post(payments, "/api/payments/authorise", {**body, "amount": "1.001"}, key=key)
    assert invalid.status_code == 422
    assert post(payments, "/api/payments/authorise", body, key=key).status_code == 201


def test_a_request_that_outlives_its_lease_loses_its_key_and_its_work_to_the_retry(payments):
    """The first request (a card slower than the lease) is still running when its retry takes
    the key over; the first's work is rolled back and it is told in_flight, the retry's kept."""
    body = card(token=f"tok_slow_{int(LEASE_S * 1000) + 500}")
    key = f"lease-{body['order_ref']}"
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(post, payments, "/api/payments/authorise", body, key)
        time.sleep(LEASE_S + 0.3)
        retry = post(payments, "/api/payments/authorise", body, key=key)
        first_answer = first.result()
    assert first_answer.status_code == 409, first_answer.text
    assert first_answer.json()["error"] == "in_flight" and "took" in first_answer.json()["detail"]
    assert retry.status_code == 201, retry.text
    assert [p["id"] for p in payments_of(payments, body["order_ref"])] == [retry.json()["id"]]
    assert post(payments, "/api/payments/authorise", body, key=key).json() == retry.json()


def test_prune_forgets_answered_keys_past_their_retention(payments):
    body = card()
    key = f"prune-{body['order_ref']}"
    assert post(payments, "/api/payments/authorise", body, key=key).status_code == 201
    assert "forgot 0 " in payments.service.manage("prune_idempotency_keys")  # kept 24 h
    forgot = payments.service.manage("prune_idempotency_keys", "--older-than-hours", "0")
    assert "forgot 0 " not in forgot
    # Past the retention a retry is a new request: what callers must retry within.
    again = post(payments, "/api/payments/authorise", body, key=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert len(payments_of(payments, body["order_ref"])) == 2


# Probes and docs


def test_healthz_readyz_and_the_openapi_page(payments):
    assert payments.client.get("/healthz").status_code == 200
    ready = payments.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    paths = payments.client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/payments/authorise",
        "/api/payments/{payment_id}/capture",
        "/api/payments/{payment_id}/void",
        "/api/payments/{payment_id}/refund",
        "/api/payments/",
        "/api/payments/{payment_id}",
    } <= set(paths)
    docs = payments.client.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# A server killed mid-request


def test_a_key_held_by_a_killed_server_is_free_again_once_its_lease_runs_out(tmp_path):
    """Killed while its request held a key, the server leaves the key in flight; a retry is told
    so until the key's lease runs out, then takes the key over and runs: one payment."""
    lease = 4.0
    var = tmp_path / "var"
    var.mkdir()
    body = card(token="tok_slow_1500")
    headers = {"Idempotency-Key": f"killed-{body['order_ref']}"}
    first = PaymentsProcess(var, service_env(var, PAYMENTS_KEY_LEASE_S=str(lease)))
    first.start()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            lost = pool.submit(
                httpx.post,
                f"{first.url}/api/payments/authorise",
                json=body,
                headers=headers,
                timeout=30,
            )
            taken = time.monotonic()
            time.sleep(0.5)
            first.stop(kill=True)
            with pytest.raises(httpx.TransportError):
                lost.result()
    finally:
        first.stop(kill=True)
    with payments_service(var, PAYMENTS_KEY_LEASE_S=str(lease)) as second:
        url = f"{second.url}/api/payments/authorise"
        retry = httpx.post(url, json=body, headers=headers, timeout=30)
        if time.monotonic() - taken < lease - 0.5:  # (a slow start may leave no time to see it)
            assert retry.status_code == 409 and retry.json()["error"] == "in_flight", retry.text
        while retry.status_code == 409 and time.monotonic() < taken + lease + 5:
            time.sleep(0.25)
            retry = httpx.post(url, json=body, headers=headers, timeout=30)
        assert retry.status_code == 201, retry.text
        found = httpx.get(f"{second.url}/api/payments/", params={"order_ref": body["order_ref"]})
        assert [p["id"] for p in found.json()["items"]] == [retry.json()["id"]]
