"""`manage.py seed`: rows in every table, consistent with the shop's own rules, deterministic,
and no silent overwrite of a shop that has data."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from legacy_monolith.accounts.models import CustomerProfile, User
from legacy_monolith.catalog.models import Brand, Category, DigitalProduct, Product, ProductVariant
from legacy_monolith.core.seeding.lifecycle import plan_life
from legacy_monolith.inventory.models import StockItem, StockMovement
from legacy_monolith.notifications.models import EmailTemplate, Notification, NotificationPreference
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent
from legacy_monolith.orders.services import ALLOWED
from legacy_monolith.payments.models import Invoice, Payment, Refund
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from legacy_monolith.reporting.models import DailySalesSnapshot, ReportRun
from legacy_monolith.reporting.queries import SOLD_STATUSES
from legacy_monolith.reviews.models import Review, ReviewVote
from legacy_monolith.shipping.models import Shipment
from legacy_monolith.shipping.rates import quote

REPO = Path(__file__).resolve().parents[2]
FINISHED = {"delivered", "cancelled", "refunded"}


@pytest.fixture
def fast_hashing(settings):
    """PBKDF2's million rounds are not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db, fast_hashing):
    call_command("seed", size="small", seed=7, verbosity=0)


def fingerprint() -> dict[str, list]:
    return {
        "orders": list(
            Order.objects.order_by("id").values_list(
                "number",
                "customer__email",
                "status",
                "subtotal",
                "discount",
                "shipping_cost",
                "total",
                "placed_at",
            )
        ),
        "lines": list(
            OrderLine.objects.order_by("id").values_list(
                "order_id", "sku", "quantity", "line_total"
            )
        ),
        "users": list(
            User.objects.order_by("id").values_list("username", "email", "password", "date_joined")
        ),
        "stock": list(
            StockItem.objects.order_by("id").values_list(
                "variant__sku", "warehouse__code", "quantity"
            )
        ),
        "reviews": list(
            Review.objects.order_by("id").values_list("product_id", "author_id", "rating", "title")
        ),
        "events": list(
            OrderStatusEvent.objects.order_by("id").values_list(
                "order_id", "to_status", "created_at"
            )
        ),
    }


# -- every table, plausible volumes -------------------------------------------------------------


def test_every_table_of_the_shop_gets_rows_m2m_tables_included(seeded):
    empty = [
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        if model.__module__.startswith("legacy_monolith.")
        and not model._meta.proxy
        and not model._default_manager.exists()
    ]
    assert empty == []
    assert Order.objects.count() == 300
    assert DigitalProduct.objects.exists()
    assert set(EmailTemplate.objects.values_list("key", flat=True)) >= {
        "order-confirmation",
        "order-shipped",
        "order-cancelled",
        "order-refunded",
        "low-stock",
    }


def test_identifiers_are_unique(seeded):
    for model, field in [
        (ProductVariant, "sku"),
        (Product, "slug"),
        (Category, "slug"),
        (Brand, "slug"),
        (User, "email"),
        (User, "username"),
        (Order, "number"),
        (Invoice, "number"),
        (Payment, "reference"),
        (Coupon, "code"),
        (Shipment, "tracking_number"),
    ]:
        values = list(model.objects.values_list(field, flat=True))
        assert len(values) == len(set(values)), f"{model.__name__}.{field} repeats"


# -- money ----------------------------------------------------------------------------------------


def test_order_totals_are_line_totals_minus_discount_plus_shipping(seeded):
    for line in OrderLine.objects.all():
        assert line.line_total == line.unit_price * line.quantity
    orders = Order.objects.select_related("shipping_method").annotate(
        lines_sum=Sum("lines__line_total"),
        weight=Sum(F("lines__quantity") * F("lines__variant__weight_grams")),
    )
    for order in orders:
        assert order.subtotal == order.lines_sum
        assert order.total == order.subtotal - order.discount + order.shipping_cost
        assert order.shipping_cost == quote(
            order.shipping_method, order.subtotal - order.discount, order.weight
        )


def test_payments_invoices_and_refunds_match_their_orders(seeded):
    assert Payment.objects.filter(status="declined").exists()
    assert not Payment.objects.filter(status="declined").exclude(order__status="cancelled").exists()
    taken = Payment.objects.exclude(status="declined")
    assert not taken.filter(order__status__in=["pending", "cancelled"]).exists()
    assert (
        taken.count()
        == taken.values("order").distinct().count()
        == Order.objects.filter(status__in=["paid", "shipped", "delivered", "refunded"]).count()
    )
    for payment in taken.select_related("order", "order__invoice").annotate(
        refunded=Sum("refunds__amount")
    ):
        order = payment.order
        assert payment.amount == order.total == order.invoice.total
        if order.status == "refunded":
            assert (payment.status, payment.refunded) == ("refunded", order.total)
        else:
            assert payment.status == "captured"
            assert (payment.refunded or 0) < order.total  # partial returns only
    assert Refund.objects.filter(return_request__isnull=False).exists()


def test_coupon_use_follows_the_promotion_rules(seeded):
    redemptions = CouponRedemption.objects.select_related("order", "coupon__promotion")
    assert redemptions.exists()
    for redemption in redemptions:
        order, promotion = redemption.order, redemption.coupon.promotion
        assert order.coupon_id == redemption.coupon_id and redemption.user_id == order.customer_id
        assert redemption.amount == order.discount > 0
        assert promotion.starts_at <= order.placed_at <= promotion.ends_at
    assert Order.objects.filter(coupon__isnull=False).count() == redemptions.count()
    for coupon in Coupon.objects.annotate(uses=Count("redemptions")):
        assert coupon.used_count == coupon.uses
        assert coupon.max_uses == 0 or coupon.uses <= coupon.max_uses


def test_profiles_carry_what_captured_payments_added(seeded):
    paid = defaultdict(Decimal)
    for customer_id, total in Order.objects.filter(
        status__in=["paid", "shipped", "delivered", "refunded"]
    ).values_list("customer_id", "total"):
        paid[customer_id] += total
    for profile in CustomerProfile.objects.all():
        assert profile.lifetime_value == paid[profile.user_id]
        assert (
            profile.loyalty_points
            >= int(paid[profile.user_id])
            - Order.objects.filter(customer_id=profile.user_id).count()
        )
    assert (
        User.objects.count()
        == CustomerProfile.objects.count()
        == NotificationPreference.objects.count()
    )


# -- time and status ------------------------------------------------------------------------------


def test_every_order_history_follows_the_allowed_transitions_in_time(seeded):
    now = timezone.now()
    events = defaultdict(list)
    for event in OrderStatusEvent.objects.order_by("order_id", "created_at", "id"):
        events[event.order_id].append(event)
    for order in Order.objects.select_related("customer"):
        history = events[order.id]
        assert (history[0].from_status, history[0].to_status) == ("", "pending")
        assert history[0].created_at == order.placed_at
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.to_status in ALLOWED[before.to_status]
        assert history[-1].to_status == order.status
        assert order.customer.date_joined < order.placed_at < now
        assert order.placed_at > now - timedelta(days=732)


def test_statuses_spread_like_a_real_shop_and_only_recent_orders_are_unfinished(seeded):
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
    assert statuses["delivered"] > 0.7 * 300
    assert statuses["cancelled"] > 0 and statuses["refunded"] > 0
    recent = timezone.now() - timedelta(days=14)
    assert not Order.objects.exclude(status__in=FINISHED).filter(placed_at__lt=recent).exists()
    months = {
        placed.strftime("%Y-%m") for placed in Order.objects.values_list("placed_at", flat=True)
    }
    assert len(months) >= 20, "two years of orders"


def test_only_delivered_orders_have_delivered_shipments(seeded):
    shipments = Shipment.objects.select_related("order")
    assert shipments.filter(status="delivered").exists()
    expected = {
        "ready": {"paid"},
        "in_transit": {"shipped"},
        "delivered": {"delivered"},
        "lost": {"refunded"},
    }
    for shipment in shipments.annotate(
        delivered_events=Count("tracking_events", filter=Q(tracking_events__status="delivered"))
    ):
        assert shipment.order.status in expected[shipment.status], (
            shipment.status,
            shipment.order.status,
        )
        assert shipment.delivered_events == (1 if shipment.status == "delivered" else 0)
        assert set(shipment.lines.values_list("order_id", flat=True)) == {shipment.order_id}
    physical = Order.objects.filter(lines__variant__stock_items__isnull=False).distinct()
    assert not physical.filter(status="delivered", shipments__isnull=True).exists()


def test_snapshots_hold_what_the_report_run_saw_at_its_time(seeded):
    """Each order's status at the run's time, rebuilt from its status events."""
    runs = {
        run.params["day"]: run.started_at
        for run in ReportRun.objects.filter(kind="daily_sales_snapshot")
    }
    history = defaultdict(list)
    for order_id, status, at in OrderStatusEvent.objects.order_by("created_at", "id").values_list(
        "order_id", "to_status", "created_at"
    ):
        history[order_id].append((at, status))
    orders = defaultdict(list)
    for order in Order.objects.all():
        orders[order.placed_at.date()].append(order)
    snapshots = list(DailySalesSnapshot.objects.all())
    assert len(snapshots) == len(runs) >= 700
    for snapshot in snapshots:
        taken = runs[snapshot.day.isoformat()]
        sold = [
            order
            for order in orders[snapshot.day]
            if [status for at, status in history[order.id] if at <= taken][-1] in SOLD_STATUSES
        ]
        assert snapshot.orders_count == len(sold)
        assert snapshot.revenue == sum((order.total for order in sold), Decimal("0.00"))


def test_mails_follow_the_receivers_and_the_customers_preferences(seeded):
    order_mails = Notification.objects.filter(template__key__startswith="order-")
    assert not order_mails.filter(user__notification_preference__email_orders=False).exists()
    assert not order_mails.exclude(to_email=F("user__email")).exists()
    for key in ["order-confirmation", "order-shipped", "order-cancelled", "order-refunded"]:
        assert order_mails.filter(template__key=key).exists(), key
    shipped = order_mails.filter(template__key="order-shipped").values_list(
        "payload__order", flat=True
    )
    assert set(shipped) <= set(
        Order.objects.filter(status__in=["shipped", "delivered", "refunded"]).values_list(
            "number", flat=True
        )
    )
    alerts = Notification.objects.filter(template__key="low-stock")
    assert alerts.exists() and not alerts.exclude(user__isnull=True).exists()
    assert set(alerts.values_list("to_email", flat=True)) == set(settings.SHOP_STAFF_EMAILS)


# -- catalogue, stock, reviews -----------------------------------------------------------------


def test_stock_is_the_sum_of_its_movements_and_downloads_have_none(seeded):
    moved = dict(
        StockMovement.objects.values_list("stock_item").annotate(total=Sum("delta")).order_by()
    )
    for item in StockItem.objects.all():
        assert item.quantity == moved[item.id] >= 0
    assert not StockItem.objects.filter(variant__product__digitalproduct__isnull=False).exists()
    sold = dict(
        StockMovement.objects.filter(reason="sale")
        .values_list("order")
        .annotate(n=Sum("delta"))
        .order_by()
    )
    shelved = dict(
        OrderLine.objects.filter(variant__stock_items__isnull=False)
        .values_list("order")
        .annotate(n=Sum("quantity", distinct=False))
        .order_by()
    )
    assert set(sold) == {order for order, units in shelved.items() if units}
    assert {movement.reason for movement in StockMovement.objects.all()} >= {
        "sale",
        "restock",
        "return",
    }


def test_reviews_are_one_per_product_and_author_and_votes_one_per_user(seeded):
    assert Review.objects.exists() and ReviewVote.objects.exists()
    assert (
        not Review.objects.values("product", "author")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    assert (
        not ReviewVote.objects.values("review", "user")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    assert not ReviewVote.objects.filter(user=F("review__author")).exists()
    for review in Review.objects.filter(order_line__isnull=False).select_related(
        "order_line__order", "order_line__variant"
    ):
        assert review.order_line.order.customer_id == review.author_id
        assert review.order_line.order.status == "delivered"
        assert review.order_line.variant.product_id == review.product_id
    for product in Product.objects.filter(rating_count__gt=0):
        ratings = list(product.reviews.filter(is_approved=True).values_list("rating", flat=True))
        assert product.rating_count == len(ratings)
        assert abs(product.rating_avg - Decimal(sum(ratings)) / len(ratings)) <= Decimal("0.005")


def test_customers_and_the_admin_can_log_in_with_the_documented_passwords(db, client):
    call_command("seed", size="small", seed=7, verbosity=0)
    customer = User.objects.filter(is_staff=False, is_active=True).first()
    assert client.login(username=customer.username, password="shop-demo-123")
    assert client.login(username="admin", password="admin")
    assert User.objects.get(username="admin").is_superuser


# -- the command's contract -----------------------------------------------------------------------


def test_the_same_seed_gives_the_same_shop_and_another_seed_another(db, fast_hashing):
    call_command("seed", size="small", seed=3, verbosity=0)
    first = fingerprint()
    call_command("seed", size="small", seed=3, reset=True, verbosity=0)
    assert fingerprint() == first
    call_command("seed", size="small", seed=4, reset=True, verbosity=0)
    assert fingerprint()["orders"] != first["orders"]


def test_if_empty_leaves_a_seeded_shop_alone_and_says_so_in_one_line(seeded):
    before = fingerprint()
    out = io.StringIO()
    call_command("seed", size="small", seed=99, if_empty=True, stdout=out)
    assert fingerprint() == before
    assert out.getvalue().count("\n") == 1 and "300 orders" in out.getvalue()


def test_seeding_a_shop_with_data_needs_a_decision(seeded):
    with pytest.raises(CommandError, match="--reset.*--if-empty"):
        call_command("seed", size="small", verbosity=0)


def test_reset_replaces_everything_including_rows_added_by_hand(seeded):
    customer = User.objects.create_user("late-comer", email="late@example.com", password="x")
    Order.objects.create(number="ORD-BY-HAND", customer=customer, placed_at=timezone.now())
    call_command("seed", size="small", seed=7, reset=True, verbosity=0)
    assert not User.objects.filter(username="late-comer").exists()
    assert not Order.objects.filter(number="ORD-BY-HAND").exists()
    assert Order.objects.count() == 300 and Order.objects.order_by("id").first().id == 1


def test_ids_continue_after_the_seeded_ones(seeded):
    """Seeding sets ids itself; the database's sequences must move past them (PostgreSQL)."""
    user = User.objects.create_user(
        "after-seed", email="after@example.com", password="x"
    )  # + profile, preference
    order = Order.objects.create(number="ORD-AFTER-SEED", customer=user, placed_at=timezone.now())
    assert order.id == 301
    assert (
        CustomerProfile.objects.filter(user=user).exists()
        and NotificationPreference.objects.filter(user=user).exists()
    )
    variant = ProductVariant.objects.create(product_id=1, sku="AFTER-1", price=Decimal("1.00"))
    assert variant.id == ProductVariant.objects.count()


def test_the_command_line_reports_each_phase_and_refuses_to_seed_twice(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["FIGKIT_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, "legacy_monolith/manage.py"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*manage, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )

    assert run("migrate", "-v0").returncode == 0
    first = run("seed", "--size", "small")
    assert first.returncode == 0, first.stderr
    assert (
        "seed: orders: " in first.stdout and "seed: reports: " in first.stdout
    )  # one line per phase
    assert "orders.Order" in first.stdout and "admin / admin" in first.stdout  # the summary
    again = run("seed", "--size", "small")
    assert again.returncode == 1
    assert (
        again.stderr.strip().count("\n") == 0
        and "--if-empty" in again.stderr
        and "Traceback" not in again.stderr
    )
    kept = run("seed", "--if-empty")
    assert kept.returncode == 0 and kept.stdout.count("\n") == 1


# -- the lifecycle rules, as plain values ---------------------------------------------------------


def test_an_order_placed_minutes_ago_has_not_got_far():
    now = timezone.now()
    rng = random.Random(1)
    lives = [
        plan_life(rng, now - timedelta(minutes=5), now, eta_days=2, digital_only=False)
        for _ in range(200)
    ]
    assert {life.status for life in lives} <= {"pending", "paid", "cancelled"}
    assert all(life.shipment_status is None for life in lives)


def test_an_old_order_has_reached_its_fate():
    now = timezone.now()
    rng = random.Random(2)
    for _ in range(300):
        life = plan_life(rng, now - timedelta(days=60), now, eta_days=3, digital_only=False)
        assert life.status in FINISHED
        assert (life.shipment_status == "delivered") == (life.status == "delivered")
        assert [step.at for step in life.steps] == sorted(step.at for step in life.steps)
