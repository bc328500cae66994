"""Checkout as a saga (legacy_monolith/orders/checkout_saga.py) against the real payments service
on loopback: every run ends completed or fully compensated, whatever fails where, and what the
shop and the payments service hold agrees (`consistency`)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.db import connection, connections
from django.utils import timezone

from extracted.seam import saga
from extracted.seam.models import SagaRun
from legacy_monolith.accounts.models import CustomerProfile
from legacy_monolith.cart.models import Cart
from legacy_monolith.inventory.models import StockItem
from legacy_monolith.orders.checkout import CheckoutError, CheckoutRequest, place_order
from legacy_monolith.orders.models import Order
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from tests.extracted.payments_process import payments_service

REPO = Path(__file__).resolve().parents[2]
STEPS = ["create_order", "reserve_stock", "authorise", "capture", "confirm"]


@pytest.fixture(scope="module")
def payments_url(tmp_path_factory):
    """The payments service as a real process, on its own SQLite database."""
    with payments_service(tmp_path_factory.mktemp("payments-var")) as service:
        yield service.url


@pytest.fixture
def saga_checkout(settings, payments_url):
    settings.CHECKOUT_MODE = "saga"
    settings.PAYMENTS_URL = payments_url
    settings.PAYMENTS_READ_TIMEOUT_S = 1.0
    settings.CHECKOUT_PAYMENT_STEP_TIMEOUT_S = 2.0
    settings.CHECKOUT_SAGA_WAIT_S = 20.0
    yield
    saga.FAULTS.clear()


def checkout(shop, cart: Cart, card: str = "tok_visa") -> Order:
    return place_order(CheckoutRequest(cart=cart, address_id=shop.address.pk,
                                       shipping_method_id=shop.standard.pk, card_token=card))  # fmt: skip


def payments_of(payments_url: str, order: Order) -> list[dict]:
    found = httpx.get(f"{payments_url}/api/payments/", params={"order_ref": order.number}, timeout=5).json()
    return list(found.get("items", found) if isinstance(found, dict) else found)


def consistency(shop, payments_url: str, coupon_uses_before: int) -> dict[str, int]:
    """What the shop and the payments service hold, checked against each other; the counts."""
    assert not SagaRun.objects.filter(status__in=saga.ACTIVE).exists(), "a saga has not ended"
    assert not SagaRun.objects.filter(status=saga.STUCK).exists()
    counts = {"paid": 0, "cancelled": 0}
    for order in Order.objects.all():
        live = [p for p in payments_of(payments_url, order) if p["status"] in {"authorised", "captured"}]
        if order.status == Order.Status.PAID:
            assert [Decimal(p["amount"]) for p in live] == [order.total], (order.number, live)
            assert live[0]["status"] == "captured"
            assert order.stockmovement_set.count() == order.lines.count()
            counts["paid"] += 1
        else:
            assert order.status == Order.Status.CANCELLED, order.status
            assert live == [], (order.number, live)
            assert order.stockmovement_set.count() == 0
            counts["cancelled"] += 1
    assert sum(StockItem.objects.values_list("reserved", flat=True)) == 0, "stock left reserved"
    coupon = Coupon.objects.get(pk=shop.coupon.pk)
    assert coupon.used_count == coupon_uses_before + CouponRedemption.objects.filter(coupon=coupon).count()
    return counts


@pytest.mark.django_db(transaction=True)
def test_a_saga_checkout_pays_the_order_and_writes_what_the_atomic_one_did(shop, saga_checkout, payments_url):
    stock_before = shop.stock_of(shop.kettle)
    cart = shop.cart_with((shop.kettle, 1), (shop.novel, 2), coupon=shop.coupon)
    order = checkout(shop, cart)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.total == Decimal("63.40")
    [payment] = payments_of(payments_url, order)
    assert payment["status"] == "captured" and Decimal(payment["amount"]) == order.total
    assert shop.stock_of(shop.kettle) == stock_before - 1
    assert CouponRedemption.objects.filter(order=order).count() == 1
    assert CustomerProfile.objects.get(user=shop.customer).loyalty_points == 63
    assert not Cart.objects.get(pk=cart.pk).items.exists()
    assert consistency(shop, payments_url, 0) == {"paid": 1, "cancelled": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("card, lines, said", [
    ("tok_declined", [("kettle", 1)], "payment failed"),
    ("tok_visa", [("novel", 4)], "out of stock"),
])  # fmt: skip
def test_a_refused_checkout_leaves_a_cancelled_order_and_nothing_held(shop, saga_checkout, payments_url, card, lines, said):
    cart = shop.cart_with(*[(getattr(shop, name), n) for name, n in lines], coupon=shop.coupon)
    with pytest.raises(CheckoutError, match=said):
        checkout(shop, cart, card)
    [order] = Order.objects.all()
    assert order.status == Order.Status.CANCELLED
    assert Cart.objects.get(pk=cart.pk).items.exists(), "the cart stays, to try again"
    assert consistency(shop, payments_url, 0) == {"paid": 0, "cancelled": 1}


def _drive_to_end(run_id) -> SagaRun:
    for _ in range(30):
        try:
            run = saga.drive(run_id, budget_s=30)
        except saga.DriverCrashed:
            SagaRun.objects.filter(pk=run_id).update(lease_until=timezone.now() - timedelta(seconds=1))
            continue
        if run.status not in saga.ACTIVE:
            return run
    raise AssertionError(f"saga {run_id} did not end")


POINTS = [f"{step}:{where}" for step in STEPS for where in ("before", "after")] + [
    f"{step}:before_commit" for step in ("create_order", "reserve_stock", "confirm")
] + ["authorise:reply_lost", "capture:reply_lost"]  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["raise-once", "crash-once"])
@pytest.mark.parametrize("point", POINTS)
def test_a_failure_once_at_any_point_still_ends_in_a_paid_order_charged_once(shop, saga_checkout, payments_url, point, how):
    """raise: a timeout there (retried); crash: the driver dies there, another takes over."""
    from legacy_monolith.orders.checkout_saga import PATH

    cart = shop.cart_with((shop.kettle, 2), coupon=shop.coupon)
    run = saga.start(PATH, {"cart_id": cart.pk, "address_id": shop.address.pk,
                            "shipping_method_id": shop.standard.pk, "card_token": "tok_visa"})  # fmt: skip
    saga.FAULTS[point] = how
    run = _drive_to_end(run.id)
    assert run.status == saga.COMPLETED, run.error
    assert consistency(shop, payments_url, 0) == {"paid": 1, "cancelled": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["authorise:before", "authorise:reply_lost", "capture:reply_lost"])
def test_a_step_that_keeps_failing_is_compensated_and_nothing_stays_charged(shop, saga_checkout, payments_url, point):
    from legacy_monolith.orders.checkout_saga import PATH

    cart = shop.cart_with((shop.kettle, 1), coupon=shop.coupon)
    run = saga.start(PATH, {"cart_id": cart.pk, "address_id": shop.address.pk,
                            "shipping_method_id": shop.standard.pk, "card_token": "tok_visa"})  # fmt: skip
    saga.FAULTS[point] = "raise"
    run = _drive_to_end(run.id)
    assert run.status == saga.COMPENSATED and "gave up after" in run.error
    assert consistency(shop, payments_url, 0) == {"paid": 0, "cancelled": 1}


@pytest.mark.django_db(transaction=True)
def test_200_checkouts_at_once_for_100_in_stock_sell_100_and_compensate_the_rest(shop, saga_checkout, payments_url, settings):
    if connection.vendor != "postgresql":
        pytest.skip("200 concurrent checkouts need PostgreSQL (make test runs these tests on it)")
    settings.PAYMENTS_READ_TIMEOUT_S = 10.0
    settings.CHECKOUT_PAYMENT_STEP_TIMEOUT_S = 60.0
    StockItem.objects.filter(variant=shop.kettle).update(quantity=100, reserved=0)
    carts = [shop.cart_with((shop.kettle, 1)) for _ in range(200)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def buy(cart: Cart) -> None:
        try:
            order = checkout(shop, cart)
            outcome = order.status
        except CheckoutError as exc:
            outcome = "refused: " + str(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(buy, carts))
    assert len(outcomes) == 200
    sold = 100 - StockItem.objects.get(variant=shop.kettle).quantity
    counts = consistency(shop, payments_url, 0)
    assert sold == counts["paid"] == outcomes.count("paid") == 100, sorted(set(outcomes))
    assert counts["cancelled"] == 100
    assert all(o == "paid" or "out of stock" in o for o in outcomes), sorted(set(outcomes))


@pytest.mark.django_db(transaction=True)
def test_an_orchestrator_killed_mid_checkout_leaves_sagas_that_are_resumed_to_an_end(shop, saga_checkout, payments_url):
    """A process runs checkout sagas on 4 threads and is SIGKILLed while they are in flight; the
    sagas it held are taken over once their leases run out, and all end consistent."""
    if connection.vendor != "postgresql":
        pytest.skip("the killed process shares the test database: PostgreSQL (make test runs these tests on it)")
    from legacy_monolith.orders.checkout_saga import PATH

    carts = [shop.cart_with((shop.kettle, 1)) for _ in range(8)]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
               PAYMENTS_URL=payments_url, SEAM_SAGA_LEASE_S="2", PYTHONUNBUFFERED="1",
               # slow enough that a kill finds sagas between their steps
               SEAM_SAGA_FAULTS="")  # fmt: skip
    code = (
        "import threading, time\n"
        "from extracted.seam import saga\n"
        "def run(cart):\n"
        f"    r = saga.start({PATH!r}, {{'cart_id': cart, 'address_id': {shop.address.pk}, "
        f"'shipping_method_id': {shop.standard.pk}, 'card_token': 'tok_visa'}})\n"
        "    time.sleep(0.05)\n"
        "    saga.drive(r.id)\n"
        f"threads = [threading.Thread(target=run, args=(c,)) for c in {[c.pk for c in carts]}]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\n"
    )
    proc = subprocess.Popen([sys.executable, str(REPO / "legacy_monolith" / "manage.py"), "shell", "-c", code],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = timezone.now() + timedelta(seconds=60)
    while not SagaRun.objects.filter(log__step="authorise").exists():
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert timezone.now() < deadline, "no saga reached its payment in 60 s"
        threading.Event().wait(0.02)
    proc.kill()
    proc.wait(timeout=10)
    started = SagaRun.objects.count()
    in_flight = SagaRun.objects.filter(status__in=saga.ACTIVE).count()
    assert in_flight >= 1, "the kill found no saga in flight"
    for _ in range(100):
        saga.resume_due()
        if not SagaRun.objects.filter(status__in=saga.ACTIVE).exists():
            break
        threading.Event().wait(0.5)
    counts = consistency(shop, payments_url, 0)
    assert counts["paid"] + counts["cancelled"] == Order.objects.count() <= started


@pytest.mark.django_db(transaction=True)
def test_the_checkout_api_answers_as_before_when_it_runs_as_a_saga(client, shop, saga_checkout, payments_url):
    """201 paid, 402 declined, 409 out of stock: the statuses the atomic path gave. A refused
    checkout leaves a cancelled order behind (the saga's record), where the atomic one left none."""
    from tests.legacy_monolith.test_json_api import checkout_body, post_json

    client.force_login(shop.customer)
    post_json(client, "/api/cart/items/", {"sku": "KET-CU-1", "quantity": 2})
    paid = post_json(client, "/api/checkout/", checkout_body(shop))
    assert paid.status_code == 201 and paid.json()["status"] == "paid", paid.content
    post_json(client, "/api/cart/items/", {"sku": "KET-CU-1"})
    declined = post_json(client, "/api/checkout/", checkout_body(shop, token="tok_declined"))
    assert declined.status_code == 402 and "declined" in declined.json()["error"]
    post_json(client, "/api/cart/items/", {"sku": "BK-DE-1", "quantity": 4})
    assert post_json(client, "/api/checkout/", checkout_body(shop)).status_code == 409
    assert consistency(shop, payments_url, 0) == {"paid": 1, "cancelled": 2}


@pytest.mark.broker
def test_a_checkout_whose_driver_died_is_finished_by_the_celery_task_over_rabbitmq(
    shop, saga_checkout, payments_url, rabbitmq_url, transactional_db
):
    """What Celery beat runs every 5 s (seam.resume_sagas), sent over RabbitMQ to a worker: it
    takes over the saga once the dead driver's lease has run out, and ends it paid."""
    from extracted.seam.tasks import resume_sagas
    from legacy_monolith.orders.checkout_saga import PATH
    from tests.legacy_monolith.test_tasks_on_broker import app_on_broker, running_worker, wait_for

    cart = shop.cart_with((shop.kettle, 1))
    run = saga.start(PATH, {"cart_id": cart.pk, "address_id": shop.address.pk,
                            "shipping_method_id": shop.standard.pk, "card_token": "tok_visa"})  # fmt: skip
    saga.FAULTS["capture:before"] = "crash-once"
    with pytest.raises(saga.DriverCrashed):
        saga.drive(run.id)
    assert SagaRun.objects.get(pk=run.id).status == saga.RUNNING
    SagaRun.objects.filter(pk=run.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    with app_on_broker(rabbitmq_url), running_worker():
        resume_sagas.delay()
        wait_for("the saga's status", lambda: SagaRun.objects.get(pk=run.id).status, saga.COMPLETED)
    assert consistency(shop, payments_url, 0) == {"paid": 1, "cancelled": 0}
