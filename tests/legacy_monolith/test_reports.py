"""The hand-written SQL reports give the right figures on SQLite and on PostgreSQL.

One known set of orders, placed on the edges of three March days in every status, so each
report's status filter and date bounds decide which of them count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.accounts.models import CustomerProfile, User
from legacy_monolith.catalog.models import Category, Product, ProductVariant
from legacy_monolith.inventory.models import StockItem, Warehouse
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.promotions.models import Coupon, CouponRedemption
from legacy_monolith.reporting.models import DailySalesSnapshot, ReportRun
from legacy_monolith.reporting.queries import (
    CategorySales,
    CouponResult,
    CustomerValue,
    DaySales,
    LowStock,
    best_reviewed_products,
    coupon_effectiveness,
    daily_sales,
    low_stock,
    sales_by_category,
    top_customers,
)
from legacy_monolith.reporting.tasks import build_daily_sales_snapshot
from legacy_monolith.reviews.models import Review

MAR_10, MAR_11, MAR_12 = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)
ONE_MICROSECOND = timedelta(microseconds=1)


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def place(
    customer, placed_at, status, lines, *, discount="0.00", shipping="0.00", coupon=None
) -> Order:
    """An order as checkout would have left it, but at a chosen moment and in a chosen status."""
    subtotal = sum((variant.price * quantity for variant, quantity in lines), Decimal("0.00"))
    order = Order.objects.create(
        number=f"ORD-T-{Order.objects.count() + 1}",
        customer=customer,
        status=status,
        coupon=coupon,
        subtotal=subtotal,
        discount=Decimal(discount),
        shipping_cost=Decimal(shipping),
        total=subtotal - Decimal(discount) + Decimal(shipping),
        placed_at=placed_at,
    )
    for variant, quantity in lines:
        OrderLine.objects.create(
            order=order,
            variant=variant,
            product_name=variant.product.name,
            sku=variant.sku,
            quantity=quantity,
            unit_price=variant.price,
            line_total=variant.price * quantity,
        )
    if coupon is not None:
        CouponRedemption.objects.create(
            coupon=coupon, order=order, user=customer, amount=Decimal(discount)
        )
    return order


@dataclass
class March:
    shop: object
    bob: User
    kitchen: Category


@pytest.fixture
def march(shop) -> March:
    """Kettle 40.00 (Kitchen), novel 12.50 (Books); ada and bob buy around 10-12 March 2025."""
    bob = User.objects.create_user("bob", email="bob@example.com", password="correct-horse-4")
    ada, kettle, novel, spring = shop.customer, shop.kettle, shop.novel, shop.coupon
    # Inside 10-11 March, sold:
    place(ada, at(MAR_10, 9), "paid", [(kettle, 1), (novel, 2)], shipping="4.90")  # 69.90
    place(
        bob, at(MAR_11) - ONE_MICROSECOND, "shipped", [(novel, 1)], shipping="4.90"
    )  # 17.40, last moment of the 10th
    place(
        ada, at(MAR_11), "delivered", [(kettle, 2)], discount="8.00", coupon=spring
    )  # 72.00, first moment of the 11th
    # Inside, but not sold:
    place(bob, at(MAR_11, 12), "cancelled", [(kettle, 3)])
    place(bob, at(MAR_11, 13), "pending", [(novel, 1)])
    # Sold, but just outside 10-11 March:
    place(
        ada, at(MAR_12), "paid", [(kettle, 1)], discount="4.00", shipping="4.90", coupon=spring
    )  # 40.90
    place(bob, at(MAR_10) - ONE_MICROSECOND, "paid", [(novel, 1)], shipping="4.90")  # 17.40
    CustomerProfile.objects.filter(user=ada).update(loyalty_points=180)
    CustomerProfile.objects.filter(user=bob).update(loyalty_points=34)
    return March(shop, bob, kettle.product.category)


def test_sales_by_category_counts_sold_orders_inside_the_days(march):
    kitchen, books = march.kitchen, march.shop.books

    assert sales_by_category(MAR_10, MAR_11) == [
        CategorySales(kitchen.id, "Kitchen", orders=2, units=3, revenue=Decimal("120.00")),
        CategorySales(books.id, "Books", orders=2, units=3, revenue=Decimal("37.50")),
    ]


def test_sales_by_category_for_a_single_day(march):
    assert sales_by_category(MAR_12, MAR_12) == [
        CategorySales(march.kitchen.id, "Kitchen", orders=1, units=1, revenue=Decimal("40.00")),
    ]
    assert sales_by_category(date(2025, 3, 13), date(2025, 3, 31)) == []


def test_daily_sales_groups_by_day_and_excludes_the_moments_just_outside(march):
    assert daily_sales(MAR_10, MAR_11) == [
        DaySales("2025-03-10", orders=2, revenue=Decimal("87.30")),
        DaySales("2025-03-11", orders=1, revenue=Decimal("72.00")),
    ]
    assert daily_sales(MAR_11, MAR_11) == [
        DaySales("2025-03-11", orders=1, revenue=Decimal("72.00"))
    ]
    assert daily_sales(date(2025, 3, 9), date(2025, 3, 12)) == [
        DaySales("2025-03-09", orders=1, revenue=Decimal("17.40")),
        DaySales("2025-03-10", orders=2, revenue=Decimal("87.30")),
        DaySales("2025-03-11", orders=1, revenue=Decimal("72.00")),
        DaySales("2025-03-12", orders=1, revenue=Decimal("40.90")),
    ]


def test_top_customers_rank_by_sold_totals_of_all_time(march):
    ada, bob = march.shop.customer, march.bob

    # bob's cancelled and pending orders do not count.
    assert top_customers() == [
        CustomerValue(
            ada.id, "ada@example.com", orders=3, spent=Decimal("182.80"), loyalty_points=180
        ),
        CustomerValue(
            bob.id, "bob@example.com", orders=2, spent=Decimal("34.80"), loyalty_points=34
        ),
    ]
    assert [c.email for c in top_customers(limit=1)] == ["ada@example.com"]


def test_coupon_effectiveness_includes_coupons_never_redeemed(march):
    spring = march.shop.coupon
    Coupon.objects.create(code="WINTER5", promotion=spring.promotion)
    Coupon.objects.create(code="AUTUMN", promotion=spring.promotion)

    assert coupon_effectiveness() == [
        CouponResult(
            "SPRING10",
            "Spring",
            redemptions=2,
            discount_given=Decimal("12.00"),
            revenue=Decimal("112.90"),
        ),
        CouponResult(
            "AUTUMN",
            "Spring",
            redemptions=0,
            discount_given=Decimal("0.00"),
            revenue=Decimal("0.00"),
        ),
        CouponResult(
            "WINTER5",
            "Spring",
            redemptions=0,
            discount_given=Decimal("0.00"),
            revenue=Decimal("0.00"),
        ),
    ]


def test_low_stock_lists_active_shelves_at_or_under_the_threshold_with_recent_sales(shop):
    now = timezone.now()
    StockItem.objects.filter(variant=shop.novel).update(quantity=3, reserved=1)  # 2 available
    small_kettle = ProductVariant.objects.create(
        product=shop.kettle.product, sku="KET-CU-2", price=Decimal("30.00")
    )
    StockItem.objects.create(
        variant=small_kettle, warehouse=shop.warehouse, quantity=5
    )  # exactly the threshold
    closed = Warehouse.objects.create(code="HAM", name="Hamburg", city="Hamburg", is_active=False)
    StockItem.objects.create(
        variant=shop.kettle, warehouse=closed, quantity=1
    )  # low, but not an active shelf
    place(shop.customer, now - timedelta(days=2), "paid", [(shop.novel, 2)])
    place(shop.customer, now - timedelta(days=3), "cancelled", [(shop.novel, 5)])  # not a sale
    place(shop.customer, now - timedelta(days=40), "delivered", [(shop.novel, 7)])  # too long ago

    assert low_stock(threshold=5) == [
        LowStock("BK-DE-1", "The Difference Engine", "BER", available=2, sold_last_30_days=2),
        LowStock("KET-CU-2", "Copper Kettle", "BER", available=5, sold_last_30_days=0),
    ]
    assert [row.sku for row in low_stock(threshold=4)] == ["BK-DE-1"]


def test_best_reviewed_products_ranks_approved_ratings_of_products_with_enough_reviews(shop):
    def product(name: str) -> Product:
        return Product.objects.create(
            name=name, slug=name.lower(), category=shop.books, base_price=Decimal("5.00")
        )

    reviewers = [
        User.objects.create_user(
            f"reader{i}", email=f"reader{i}@example.com", password="correct-horse-5"
        )
        for i in range(4)
    ]
    novel, kettle = shop.novel.product, shop.kettle.product
    ratings = {
        novel: [5, 5, 5],
        kettle: [5, 4, 4],
        product("Mug"): [4, 4, 4, 4],
        product("Teapot"): [5, 5],  # too few reviews
    }
    for item, stars in ratings.items():
        for reviewer, rating in zip(reviewers, stars, strict=False):
            Review.objects.create(product=item, author=reviewer, rating=rating, title="review")
    Review.objects.create(
        product=novel, author=reviewers[3], rating=1, title="hidden", is_approved=False
    )

    best = best_reviewed_products()

    assert [(p.name, p.review_count) for p in best] == [
        ("The Difference Engine", 3),
        ("Copper Kettle", 3),
        ("Mug", 4),
    ]
    assert [float(p.avg_rating) for p in best] == pytest.approx([5.0, 13 / 3, 4.0])
    assert [p.name for p in best_reviewed_products(min_reviews=2, limit=2)] == [
        "The Difference Engine",
        "Teapot",
    ]


def test_daily_sales_snapshot_task_records_the_day(march):
    build_daily_sales_snapshot(MAR_10.isoformat())
    snapshot = DailySalesSnapshot.objects.get(day=MAR_10)

    assert snapshot.orders_count == 2
    assert snapshot.revenue == Decimal("87.30")
    assert snapshot.units_sold == 4
    assert snapshot.top_category == march.kitchen
    run = ReportRun.objects.get(kind="daily_sales_snapshot")
    assert run.params == {"day": "2025-03-10"}
    assert run.finished_at is not None
    assert run.row_count == 2


def test_daily_sales_snapshot_task_overwrites_a_rerun_and_handles_an_empty_day(march):
    build_daily_sales_snapshot("2025-03-11")
    build_daily_sales_snapshot("2025-03-11")
    build_daily_sales_snapshot("2025-03-01")

    assert DailySalesSnapshot.objects.filter(day=MAR_11).count() == 1
    snapshot = DailySalesSnapshot.objects.get(day=MAR_11)
    assert (
        snapshot.orders_count,
        snapshot.revenue,
        snapshot.units_sold,
        snapshot.top_category,
    ) == (
        1,
        Decimal("72.00"),
        2,
        march.kitchen,
    )
    empty = DailySalesSnapshot.objects.get(day=date(2025, 3, 1))
    assert (empty.orders_count, empty.revenue, empty.units_sold, empty.top_category) == (
        0,
        Decimal("0.00"),
        0,
        None,
    )
