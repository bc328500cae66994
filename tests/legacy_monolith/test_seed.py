"""`manage.py seed`: consistent, deterministic data in every app, and no silent overwrite."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from legacy_monolith.accounts.models import User
from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment
from legacy_monolith.reviews.models import Review
from legacy_monolith.shipping.models import Shipment


@pytest.fixture
def seeded(db):
    call_command("seed", size="small", seed=7, verbosity=0)


def fingerprint() -> list:
    return list(Order.objects.order_by("id").values_list("number", "customer__email", "total", "status")[:50])


def test_every_app_of_the_shop_gets_rows(seeded):
    empty = [
        m._meta.label
        for a in apps.get_app_configs() if a.name.startswith("legacy_monolith.")
        for m in a.get_models()
        if not m._meta.proxy and not m.objects.exists()
    ]
    # ReportRun is written by the reporting task, AuditEntry by the running shop.
    assert set(empty) <= {"reporting.ReportRun", "core.AuditEntry"}, empty


def test_order_totals_are_lines_minus_discount_plus_shipping(seeded):
    orders = Order.objects.annotate(lines_sum=Sum("lines__line_total"))
    assert orders.count() == 300
    for order in orders:
        assert order.subtotal == order.lines_sum
        assert order.total == order.subtotal - order.discount + order.shipping_cost


def test_payments_and_shipments_follow_the_order_status(seeded):
    assert not Payment.objects.filter(order__status__in=["pending", "cancelled"]).exists()
    for payment in Payment.objects.select_related("order"):
        assert payment.amount == payment.order.total
    assert not Shipment.objects.filter(status="delivered").exclude(order__status__in=["delivered", "refunded"]).exists()
    assert not Shipment.objects.filter(order__status__in=["pending", "paid", "cancelled"]).exists()


def test_reviews_are_unique_per_product_and_author(seeded):
    assert Review.objects.exists()
    dupes = Review.objects.values("product", "author").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()


def test_customers_can_log_in_with_the_documented_password(seeded, client):
    customer = User.objects.filter(is_staff=False).first()
    assert client.login(username=customer.username, password="shop-demo-123")
    assert client.login(username="admin", password="admin")


def test_same_seed_gives_the_same_shop(transactional_db):
    # transactional_db: --reset flushes the tables, as it does when run from the shell.
    call_command("seed", size="small", seed=3, verbosity=0)
    first = fingerprint()
    call_command("seed", size="small", seed=3, reset=True, verbosity=0)
    assert fingerprint() == first
    call_command("seed", size="small", seed=4, reset=True, verbosity=0)
    assert fingerprint() != first


def test_if_empty_keeps_existing_data(seeded):
    before = fingerprint()
    call_command("seed", size="small", seed=99, if_empty=True, verbosity=0)
    assert fingerprint() == before


def test_seeding_a_shop_with_data_needs_a_decision(seeded):
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed", size="small", verbosity=0)


def test_ids_continue_after_seeding(seeded):
    """Seeding sets ids itself; the database's own sequences must move past them (PostgreSQL)."""
    customer = User.objects.filter(is_staff=False).first()
    order = Order.objects.create(number="ORD-AFTER-SEED", customer=customer, placed_at=customer.date_joined)
    assert order.id == Order.objects.count()
    variant = ProductVariant.objects.create(product_id=1, sku="AFTER-1", price=Decimal("1.00"))
    assert variant.id > 1
