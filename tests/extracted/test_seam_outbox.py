"""The outbox on the monolith's side: every ORM change to the catalog becomes one event, in the
same transaction as the change, with a growing per-aggregate version and a valid payload."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from extracted.catalog import contract
from extracted.seam import ownership
from extracted.seam.events import InvalidPayload
from extracted.seam.models import OutboxEvent, Ownership
from extracted.seam.outbox import NotInTransaction, publish
from legacy_monolith.catalog.models import (
    Brand,
    Category,
    DigitalProduct,
    Product,
    ProductVariant,
    Tag,
)


def events(aggregate: str = "catalog.product", key: object | None = None) -> list[OutboxEvent]:
    rows = OutboxEvent.objects.filter(aggregate_type=aggregate).order_by("seq")
    return list(rows if key is None else rows.filter(aggregate_id=str(key)))


@pytest.fixture
def kettle(db) -> Product:
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    brand = Brand.objects.create(name="Steamwork", slug="steamwork")
    product = Product.objects.create(name="Copper Kettle", slug="copper-kettle", category=kitchen, brand=brand,
                                     base_price=Decimal("40.00"))  # fmt: skip
    OutboxEvent.objects.all().delete()
    return product


def test_a_saved_product_is_one_upserted_event_with_its_whole_state(kettle):
    kettle.base_price = Decimal("44.90")
    kettle.save()
    [event] = events(key=kettle.pk)
    assert (event.kind, event.event_type, event.version, event.schema_version) == (
        "upserted",
        "catalog.product.upserted",
        2,
        1,
    )
    state = contract.PRODUCT.validate(event.payload)
    assert state.base_price == Decimal("44.90") and state.name == "Copper Kettle"
    assert event.destination == "seam.catalog" and event.domain == "catalog"


def test_changes_to_members_are_events_of_their_product(kettle):
    variant = ProductVariant.objects.create(product=kettle, sku="KET-1", price=Decimal("40.00"))
    variant.price = Decimal("39.00")
    variant.save()
    tag = Tag.objects.create(name="copper")
    kettle.tags.add(tag)
    tag.product_set.clear()  # the reverse side, which names no product
    found = events(key=kettle.pk)
    assert [e.version for e in found] == [2, 3, 4, 5]
    assert found[1].payload["variants"][0]["price"] == "39.00"
    assert found[2].payload["tags"] == ["copper"]
    assert found[3].payload["tags"] == []


def test_a_deleted_product_is_a_deleted_event_after_its_members(kettle):
    ProductVariant.objects.create(product=kettle, sku="KET-1", price=Decimal("40.00"))
    OutboxEvent.objects.all().delete()
    key = kettle.pk
    kettle.delete()
    found = events(key=key)
    assert found[-1].kind == "deleted" and found[-1].payload is None
    assert [e.version for e in found] == sorted(e.version for e in found)


def test_a_digital_product_is_captured_as_a_product(kettle):
    book = DigitalProduct.objects.create(name="E-Book", slug="e-book", category=kettle.category,
                                         base_price=Decimal("5.00"), download_url="https://x.example/1")  # fmt: skip
    [event] = events(key=book.pk)
    assert event.payload["digital"] == {
        "download_url": "https://x.example/1",
        "license_key_required": False,
    }


@pytest.mark.django_db(transaction=True)
def test_a_change_and_its_event_commit_together_or_not_at_all():
    """Outside any atomic block (autocommit, as in a shell): a failing event undoes the save."""
    category = Category.objects.create(name="Kitchen", slug="kitchen")
    product = Product.objects.create(
        name="Kettle", slug="kettle", category=category, base_price=Decimal("1.00")
    )

    def broken_state(key):
        raise InvalidPayload("catalog.product v1: base_price: broken on purpose")

    from legacy_monolith.catalog import seam

    aggregate = seam.CATALOG.aggregate("catalog.product")
    object.__setattr__(aggregate, "state", broken_state)
    try:
        product.base_price = Decimal("2.00")
        with pytest.raises(InvalidPayload):
            product.save()
    finally:
        object.__setattr__(aggregate, "state", seam.product_state)
    assert Product.objects.get(pk=product.pk).base_price == Decimal("1.00"), (
        "the change went without its event"
    )
    assert [e.version for e in events(key=product.pk)] == [1]


@pytest.mark.django_db(transaction=True)
def test_publish_refuses_to_run_outside_a_transaction():
    category = Category.objects.create(name="Kitchen", slug="kitchen")
    with pytest.raises(NotInTransaction, match="inside transaction.atomic"):
        publish("catalog.category", category.pk)


def test_a_follower_refuses_writes_and_a_held_domain_asks_to_retry(kettle):
    ownership.set_role("catalog", "follower", epoch=1)
    kettle.name = "Brass Kettle"
    # Just after the flip: a write that a proxy worker still routed here is asked to retry.
    with pytest.raises(ownership.WritesHeld, match="just moved to catalog"), transaction.atomic():
        kettle.save()
    Ownership.objects.filter(domain="catalog").update(
        changed_at=timezone.now() - timedelta(seconds=ownership.MOVED_GRACE_S + 1)
    )
    with pytest.raises(ownership.NotOwner, match="owned by catalog"), transaction.atomic():
        kettle.save()
    ownership.set_role("catalog", "owner", epoch=2)
    ownership.hold("catalog", timezone.now() + timedelta(seconds=30))
    with pytest.raises(ownership.WritesHeld, match="held"), transaction.atomic():
        kettle.save()
    ownership.release("catalog")
    kettle.save()
    assert events(key=kettle.pk)[-1].payload["name"] == "Brass Kettle"


def test_writes_applied_from_the_peer_are_not_captured_again(kettle):
    with ownership.applying():
        kettle.name = "From the service"
        kettle.save()
    assert events(key=kettle.pk) == []


def test_deleting_a_brand_publishes_the_products_it_was_cleared_from(kettle):
    """on_delete=SET_NULL runs as an UPDATE with no signal: the seam publishes those products."""
    brand_key = kettle.brand_id
    Brand.objects.filter(pk=brand_key).get().delete()
    [event] = events(key=kettle.pk)
    assert event.payload["brand_id"] is None and event.version == 2
    assert [e.kind for e in events("catalog.brand", brand_key)] == ["deleted"]


def test_the_checksum_endpoint_answers_a_key_it_cannot_read_with_a_400(kettle, client):
    bad = client.get("/seam/checksums/catalog.product/", {"ids": "abc"})
    assert bad.status_code == 400 and "must be keys of catalog.product" in bad.json()["error"]
    good = client.get("/seam/checksums/catalog.product/", {"ids": str(kettle.pk)})
    assert [item["id"] for item in good.json()["items"]] == [str(kettle.pk)]


def test_an_idle_relay_on_postgresql_wakes_when_an_outbox_write_commits_not_before():
    """The relay's Waker LISTENs for the NOTIFY an outbox write sends; PostgreSQL delivers it at
    commit only, so the relay never looks for an event it cannot see yet."""
    import threading
    import time

    import psycopg

    from extracted.seam.outbox import NOTIFY_CHANNEL
    from extracted.seam.relay import Waker
    from tests import services
    from tests.extracted.stack import drop_postgres_database, postgres_database

    url = postgres_database(services.require(services.POSTGRES), "figkit_waker")
    waker = Waker(params={"conninfo": url})
    try:
        waker.wait(0.01)  # listening from here on
        woke: list[float] = []

        def wait() -> None:
            started = time.monotonic()
            waker.wait(5.0)
            woke.append(time.monotonic() - started)

        with psycopg.connect(url) as writer:
            writer.execute(f"NOTIFY {NOTIFY_CHANNEL}")  # in the writer's open transaction
            waiting = threading.Thread(target=wait)
            waiting.start()
            time.sleep(0.5)
            assert woke == [], "woken before the writer committed"
            committed = time.monotonic()
            writer.commit()
        waiting.join(timeout=5)
        assert woke and woke[0] < 5.0, "not woken by the commit"
        assert time.monotonic() - committed < 0.5
    finally:
        waker.close()
        drop_postgres_database(url)
