"""Backfill on the monolith's side: one snapshot event per row at the row's version, in pages,
and a run that stops part-way goes on where it was."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extracted.seam import settings as seam_settings
from extracted.seam.backfill import backfill
from extracted.seam.models import BackfillRun, OutboxEvent
from legacy_monolith.catalog.models import Category, Product


@pytest.fixture
def shelf(db):
    lamps = Category.objects.create(name="Lamps", slug="lamps")
    for n in range(7):
        Product.objects.create(
            name=f"Lamp {n}", slug=f"lamp-{n}", category=lamps, base_price=Decimal("10.00")
        )
    Product.objects.filter(slug="lamp-3").get().save()  # lamp-3 is at version 2
    OutboxEvent.objects.all().delete()


class Stop(Exception):
    pass


def snapshots(aggregate: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(snapshot=True, aggregate_type=aggregate).order_by("seq"))


def test_every_row_is_one_snapshot_event_at_the_version_it_is_at(shelf):
    result = backfill(seam_settings.domain("catalog"), page=3)
    products = snapshots("catalog.product")
    assert [int(e.aggregate_id) for e in products] == list(
        Product.objects.order_by("pk").values_list("pk", flat=True)
    )
    versions = {e.payload["slug"]: e.version for e in products}
    assert versions["lamp-3"] == 2 and versions["lamp-0"] == 1
    assert len(snapshots("catalog.category")) == 1
    assert result.emitted == 8 and not result.resumed


def test_a_stopped_backfill_resumes_from_its_cursor(shelf):
    pages = []

    def stop_after_two_pages(name: str, done: int, total: int) -> None:
        pages.append((name, done))
        if name == "catalog.product" and done >= 4:
            raise Stop

    with pytest.raises(Stop):
        backfill(seam_settings.domain("catalog"), page=2, progress=stop_after_two_pages)
    assert len(snapshots("catalog.product")) == 4
    result = backfill(seam_settings.domain("catalog"), page=2)
    assert result.resumed
    ids = [int(e.aggregate_id) for e in snapshots("catalog.product")]
    assert ids == list(Product.objects.order_by("pk").values_list("pk", flat=True)), (
        "no row twice, none left out"
    )
    assert BackfillRun.objects.get().finished_at is not None
