"""The inbox on the monolith's side (as it runs after the flip, following the catalog service):
each event applies at most once, versions only move forward, poison goes to dead letters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from extracted.catalog import contract
from extracted.seam import inbox, ownership
from extracted.seam.models import DeadLetter, InboxEvent, OutboxEvent
from legacy_monolith.catalog.models import Category, Product

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def envelope(
    state: contract.ProductState | None,
    version: int,
    *,
    key: int = 7,
    event_id: uuid.UUID | None = None,
) -> dict:
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": "catalog.product." + ("deleted" if state is None else "upserted"),
        "schema_version": 1,
        "aggregate_type": "catalog.product",
        "aggregate_id": str(key),
        "version": version,
        "kind": "deleted" if state is None else "upserted",
        "payload": None if state is None else state.model_dump(mode="json"),
        "source": "catalog",
        "occurred_at": NOW.isoformat(),
    }


def product(name: str, price: str = "10.00", category_id: int = 1) -> contract.ProductState:
    return contract.ProductState(id=7, name=name, slug="lamp-7", category_id=category_id, base_price=Decimal(price),
                                 rating_avg=Decimal("0"), rating_count=0, created_at=NOW, updated_at=NOW,
                                 variants=[contract.VariantState(id=70, sku="LAMP-7", price=Decimal("10.00"), weight_grams=300)])  # fmt: skip


@pytest.fixture
def follower(db):
    ownership.set_role("catalog", "follower", epoch=1)
    with ownership.applying():
        Category.objects.create(pk=1, name="Lighting", slug="lighting")


def test_events_out_of_order_end_in_the_latest_version(follower):
    outcomes = [inbox.handle(envelope(product(f"Lamp v{v}"), v)) for v in (3, 1, 2)]
    assert outcomes == ["applied", "stale", "stale"]
    assert Product.objects.get(pk=7).name == "Lamp v3"
    assert OutboxEvent.objects.count() == 0, "applying a peer's change publishes nothing"


def test_a_redelivered_event_changes_nothing(follower):
    event_id = uuid.uuid4()
    assert inbox.handle(envelope(product("Lamp"), 1, event_id=event_id)) == "applied"
    Product.objects.filter(pk=7).update(name="changed behind the seam's back")
    assert inbox.handle(envelope(product("Lamp"), 1, event_id=event_id)) == "duplicate"
    assert Product.objects.get(pk=7).name == "changed behind the seam's back"
    assert InboxEvent.objects.filter(event_id=event_id).count() == 1


def test_a_late_upsert_does_not_bring_back_a_deleted_product(follower):
    assert inbox.handle(envelope(product("Lamp"), 1)) == "applied"
    assert inbox.handle(envelope(None, 3)) == "applied"
    assert inbox.handle(envelope(product("Lamp again"), 2)) == "stale"
    assert not Product.objects.filter(pk=7).exists()


def test_an_event_that_cannot_be_read_is_a_dead_letter_at_once(follower, capsys):
    bad = envelope(product("Lamp"), 1)
    bad["payload"]["base_price"] = "not money"
    assert inbox.handle(bad) == "dead"
    call_command("deadletters", "list", "--json")
    [letter] = json.loads(capsys.readouterr().out)["dead_letters"]
    assert letter["event_id"] == bad["id"] and "base_price" in letter["error"]


@pytest.mark.django_db(transaction=True)  # the foreign key is checked when the apply commits
def test_an_event_failing_every_time_is_parked_then_replayed_after_the_fix(
    follower, settings, capsys
):
    settings.SEAM = {**settings.SEAM, "MAX_ATTEMPTS": 3}
    orphan = envelope(product("Lamp", category_id=99), 1)  # its category has not arrived
    for _ in range(2):
        with pytest.raises(inbox.RetryLater):
            inbox.handle(orphan)
    assert inbox.handle(orphan) == "dead"
    assert not Product.objects.filter(pk=7).exists()
    with ownership.applying():
        Category.objects.create(pk=99, name="Late", slug="late")
    letter = DeadLetter.objects.get(event_id=orphan["id"])
    call_command("deadletters", "replay", str(letter.pk))
    assert "applied" in capsys.readouterr().out
    assert Product.objects.get(pk=7).category_id == 99
    assert DeadLetter.objects.filter(resolved_at__isnull=True).count() == 0


def test_a_dead_letter_overtaken_by_a_newer_version_resolves_itself(follower):
    bad = envelope(product("Lamp"), 1)
    bad["payload"]["base_price"] = "not money"
    assert inbox.handle(bad) == "dead"
    assert inbox.handle(envelope(product("Lamp fixed"), 2)) == "applied"
    letter = DeadLetter.objects.get(event_id=bad["id"])
    assert letter.resolution == "superseded" and letter.resolved_at is not None


# A consumer's batch (inbox.handle_batch): the same outcomes as one by one, in one transaction


def test_a_batch_applies_each_aggregate_once_at_its_newest_version(follower):
    other = product("Shade").model_copy(update={"id": 8, "slug": "shade-8", "variants": []})
    batch = [
        envelope(product("Lamp v2"), 2),
        envelope(other, 1, key=8),
        envelope(product("Lamp v3"), 3),
        envelope(product("Lamp v1"), 1),
    ]
    assert inbox.handle_batch(batch) == ["stale", "applied", "applied", "stale"]
    assert Product.objects.get(pk=7).name == "Lamp v3"
    assert Product.objects.get(pk=8).name == "Shade"
    assert InboxEvent.objects.count() == 4
    # the next batch: versions at or below what is here are stale, a redelivery a duplicate
    again = [batch[2], envelope(product("Lamp v3 again"), 3), envelope(None, 1, key=8)]
    assert inbox.handle_batch(again) == ["duplicate", "stale", "stale"]
    assert Product.objects.filter(pk=8).exists()


def test_the_same_event_twice_in_one_batch_is_taken_in_once(follower):
    event = envelope(product("Lamp"), 1)
    assert inbox.handle_batch([event, dict(event)]) == ["applied", "duplicate"]
    assert InboxEvent.objects.filter(event_id=event["id"]).count() == 1


def test_a_batch_with_an_event_that_cannot_apply_writes_nothing_and_goes_one_by_one(follower):
    good = envelope(product("Lamp"), 1)
    bad = envelope(product("Shade"), 1, key=8)
    bad["payload"]["base_price"] = "not money"
    with pytest.raises(inbox.BatchNotApplied, match="base_price"):
        inbox.handle_batch([good, bad])
    assert InboxEvent.objects.count() == 0 and not Product.objects.exists()
    assert [inbox.handle(good), inbox.handle(bad)] == ["applied", "dead"]


@pytest.mark.django_db(transaction=True)  # the foreign key is checked when the batch commits
def test_a_batch_whose_apply_fails_at_commit_leaves_no_trace(follower):
    orphan = envelope(product("Lamp", category_id=99), 1)  # its category has not arrived
    fine = envelope(
        product("Shade").model_copy(update={"id": 8, "slug": "shade-8", "variants": []}), 1, key=8
    )
    with pytest.raises(inbox.BatchNotApplied):
        inbox.handle_batch([fine, orphan])
    assert InboxEvent.objects.count() == 0 and not Product.objects.exists()


def test_a_batch_resolves_the_dead_letters_it_supersedes(follower):
    bad = envelope(product("Lamp"), 1)
    bad["payload"]["base_price"] = "not money"
    assert inbox.handle(bad) == "dead"
    assert inbox.handle_batch([envelope(product("Lamp fixed"), 2), envelope(None, 1, key=8)]) == [
        "applied",
        "applied",
    ]
    letter = DeadLetter.objects.get(event_id=bad["id"])
    assert letter.resolution == "superseded"
