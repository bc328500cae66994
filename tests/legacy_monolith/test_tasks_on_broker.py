"""The monolith's Celery tasks travel over real brokers to a real worker and change the database.

Each test points `legacy_monolith.config.celery.app` at one broker and a queue of its own, starts
an in-process worker (a thread with its own database connection, hence `transactional_db`),
sends a task with .delay() and polls the database for its effect.

The worker thread reaches the test database on SQLite too: pytest-django's SQLite test database
is Django's shared-cache in-memory one, `file:memorydb_default?mode=memory&cache=shared`, which
every connection opened in this process shares (it is how LiveServerTestCase works).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from django.db import connection

from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.config.celery import app
from legacy_monolith.inventory.models import StockItem, StockMovement, Supplier
from legacy_monolith.inventory.tasks import sync_supplier_stock
from legacy_monolith.notifications.models import Notification
from legacy_monolith.notifications.tasks import send_notification

pytestmark = pytest.mark.broker

DEADLINE_S = 20.0
# What each test sets on the app besides its broker and queue.
WORKER_SETTINGS = {
    "broker_connection_retry_on_startup": False,
    "task_always_eager": False,
    "worker_hijack_root_logger": False,  # leave pytest's log capture alone
    "worker_enable_remote_control": False,  # no pidbox queues left on the broker
}
OVERRIDDEN = ("broker_url", "broker_transport_options", "task_default_queue", *WORKER_SETTINGS)


@pytest.fixture(autouse=True)
def celery_configuration_is_restored():
    before = {key: app.conf[key] for key in OVERRIDDEN}
    yield
    assert {key: app.conf[key] for key in OVERRIDDEN} == before


def _forget_broker_connections() -> None:
    """Drop the app's cached connection pools and queues, so its next message uses the broker now configured.

    Celery does the same after a fork (Celery._after_fork); kombu keeps its pools per broker URL.
    """
    app._pool = None
    app.__dict__.pop("amqp", None)
    kombu.pools.reset()


def _delete_queue_and_exchange(name: str) -> None:
    """Leave nothing behind on the broker: RabbitMQ keeps queue and exchange, Redis the binding sets."""
    with app.connection_for_write() as conn:
        queue = app.amqp.queues[name](conn.default_channel)
        queue.declare()  # virtual transports (Redis) only delete the bindings they know of
        queue.delete()
        queue.exchange.delete()


@contextmanager
def app_on_broker(broker_url: str, transport_options: dict | None = None) -> Iterator[str]:
    """Point the monolith's Celery app at a broker and a fresh queue; restore its configuration after."""
    queue = f"figkit-test-{uuid.uuid4().hex[:12]}"
    overrides = {
        "broker_url": broker_url,
        "broker_transport_options": transport_options or {},
        "task_default_queue": queue,
        **WORKER_SETTINGS,
    }
    changes = app.conf.changes
    saved = {key: changes[key] for key in overrides if key in changes}
    _forget_broker_connections()
    app.conf.update(overrides)
    try:
        yield queue
    finally:
        try:
            _delete_queue_and_exchange(queue)
        finally:
            _forget_broker_connections()
            for key in overrides:
                changes.pop(key, None)
            changes.update(saved)


@contextmanager
def running_worker() -> Iterator[None]:
    """A worker thread consuming this test's queue from the broker the app is on."""
    with start_worker(app, perform_ping_check=False) as worker:
        try:
            yield
        finally:
            # Leaving start_worker sets should_terminate, which an idle event loop only notices
            # when its poll times out (up to 10 s); wake the loop so the worker stops now.
            worker_state.should_terminate = 0
            hub = getattr(worker, "hub", None)
            if hub is not None:
                hub.call_soon(lambda: None)


@pytest.fixture
def polls_without_locking():
    """On SQLite's shared-cache database a reading statement holds a table lock, and a write by the
    worker that meets it fails at once ("database table is locked") instead of waiting. With
    read_uncommitted this test's polling takes no such locks. PostgreSQL readers never block."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 1")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 0")


def wait_for(what: str, read: Callable[[], object], expected: object) -> None:
    """Poll the database until read() gives expected, failing with what it gave last."""
    deadline = time.monotonic() + DEADLINE_S
    while (seen := read()) != expected:
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: expected {expected!r} within {DEADLINE_S:.0f} s, last saw {seen!r}"
            )
        time.sleep(0.05)


def queued_notification() -> Notification:
    return Notification.objects.create(
        to_email="ada@example.com", payload={"order": "ORD-1", "status": "shipped"}
    )


def wait_until_sent(notification: Notification) -> None:
    wait_for(
        "the notification's status and error, written by the worker",
        lambda: Notification.objects.values_list("status", "error").get(pk=notification.pk),
        (Notification.Status.SENT, ""),
    )


def assert_one_mail_to_ada(mailoutbox) -> None:
    assert [m.to for m in mailoutbox] == [["ada@example.com"]]
    assert "order: ORD-1" in mailoutbox[0].body


@pytest.mark.parametrize("broker", ["redis_url", "rabbitmq_url"])
def test_send_notification_over_a_real_broker_sends_the_mail(
    broker, request, transactional_db, polls_without_locking, mailoutbox
):
    broker_url = request.getfixturevalue(broker)
    notification = queued_notification()

    with app_on_broker(broker_url), running_worker():
        send_notification.delay(notification.pk)
        wait_until_sent(notification)

    assert Notification.objects.get(pk=notification.pk).sent_at is not None
    assert_one_mail_to_ada(mailoutbox)


@pytest.mark.parametrize("broker", ["redis_url", "rabbitmq_url"])
def test_sync_supplier_stock_over_a_real_broker_applies_the_feed(
    broker, request, tmp_path, transactional_db, polls_without_locking, shop
):
    broker_url = request.getfixturevalue(broker)
    small_kettle = ProductVariant.objects.create(
        product=shop.kettle.product, sku="KET-CU-2", price=Decimal("30.00")
    )
    feed = tmp_path / "acme.csv"
    feed.write_text("sku,quantity\nKET-CU-1,25\nBK-DE-1,3\nKET-CU-2,7\nNO-SUCH-SKU,9\n")
    supplier = Supplier.objects.create(name="Acme", feed_path=str(feed), warehouse=shop.warehouse)

    with app_on_broker(broker_url), running_worker():
        sync_supplier_stock.delay(supplier.pk)
        wait_for(
            "the supplier's sync time, set by the worker",
            lambda: Supplier.objects.filter(pk=supplier.pk, last_synced_at__isnull=False).exists(),
            True,
        )

    assert shop.stock_of(shop.kettle) == 25
    assert shop.stock_of(shop.novel) == 3  # already right: no movement
    assert shop.stock_of(small_kettle) == 7  # a shelf the warehouse did not have yet
    assert sorted(
        StockMovement.objects.values_list("stock_item__variant__sku", "delta", "reason", "note")
    ) == [
        ("KET-CU-1", 15, "restock", "feed Acme"),
        ("KET-CU-2", 7, "restock", "feed Acme"),
    ]
    assert StockItem.objects.count() == 3


def test_filesystem_broker_the_embedded_default_delivers_to_a_worker(
    tmp_path, transactional_db, polls_without_locking, mailoutbox
):
    queue, done, control = tmp_path / "queue", tmp_path / "processed", tmp_path / "control"
    for folder in (queue, done, control):
        folder.mkdir()
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(done),
        "control_folder": str(control),
        "store_processed": True,
        "polling_interval": 0.05,
    }
    notification = queued_notification()

    with app_on_broker("filesystem://", options):
        send_notification.delay(notification.pk)
        assert len(list(queue.iterdir())) == 1, (
            "the message waits in the folder while no worker runs"
        )
        with running_worker():
            wait_until_sent(notification)

    assert_one_mail_to_ada(mailoutbox)
    assert not list(queue.iterdir())
    assert len(list(done.iterdir())) == 1
