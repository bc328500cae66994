"""Back-office reports in hand-written SQL that join tables of many apps.

They were written for speed years ago and nobody dared to touch them since; they are why the
orders, catalog, inventory and accounts tables can't simply move to other databases.
Portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from legacy_monolith.catalog.models import Product
from legacy_monolith.core.utils import money

SOLD_STATUSES = ("paid", "shipped", "delivered")


def _bounds(start: date, end: date) -> list:
    """Inclusive day range as backend-ready datetime parameters."""
    tz = timezone.get_current_timezone()
    lo = datetime.combine(start, time.min, tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(lo), adapt(hi)]


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class CategorySales:
    category_id: int
    category: str
    orders: int
    units: int
    revenue: Decimal


def sales_by_category(start: date, end: date) -> list[CategorySales]:
    rows = _rows(
        """
        SELECT c.id, c.name, COUNT(DISTINCT o.id), SUM(ol.quantity), SUM(ol.line_total)
        FROM orders_orderline ol
        JOIN orders_order o ON o.id = ol.order_id
        JOIN shop_product_variant v ON v.id = ol.variant_id
        JOIN shop_product p ON p.id = v.product_id
        JOIN catalog_category c ON c.id = p.category_id
        WHERE o.status IN (%s, %s, %s) AND o.placed_at >= %s AND o.placed_at < %s
        GROUP BY c.id, c.name
        ORDER BY SUM(ol.line_total) DESC
        """,
        [*SOLD_STATUSES, *_bounds(start, end)],
    )
    return [CategorySales(r[0], r[1], r[2], int(r[3] or 0), money(r[4] or 0)) for r in rows]


@dataclass(frozen=True)
class DaySales:
    day: str
    orders: int
    revenue: Decimal


def daily_sales(start: date, end: date) -> list[DaySales]:
    rows = _rows(
        """
        SELECT DATE(o.placed_at) AS day, COUNT(*), SUM(o.total)
        FROM orders_order o
        WHERE o.status IN (%s, %s, %s) AND o.placed_at >= %s AND o.placed_at < %s
        GROUP BY DATE(o.placed_at)
        ORDER BY day
        """,
        [*SOLD_STATUSES, *_bounds(start, end)],
    )
    return [DaySales(str(r[0]), r[1], money(r[2] or 0)) for r in rows]


@dataclass(frozen=True)
class CustomerValue:
    user_id: int
    email: str
    orders: int
    spent: Decimal
    loyalty_points: int


def top_customers(limit: int = 20) -> list[CustomerValue]:
    rows = _rows(
        """
        SELECT u.id, u.email, COUNT(o.id), SUM(o.total), COALESCE(cp.loyalty_points, 0)
        FROM accounts_user u
        JOIN orders_order o ON o.customer_id = u.id
        LEFT JOIN accounts_customerprofile cp ON cp.user_id = u.id
        WHERE o.status IN (%s, %s, %s)
        GROUP BY u.id, u.email, cp.loyalty_points
        ORDER BY SUM(o.total) DESC
        LIMIT %s
        """,
        [*SOLD_STATUSES, limit],
    )
    return [CustomerValue(r[0], r[1], r[2], money(r[3] or 0), r[4]) for r in rows]


@dataclass(frozen=True)
class LowStock:
    sku: str
    product: str
    warehouse: str
    available: int
    sold_last_30_days: int


def low_stock(threshold: int = 5) -> list[LowStock]:
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=30))
    rows = _rows(
        """
        SELECT v.sku, p.name, w.code, s.quantity - s.reserved,
               (SELECT COALESCE(SUM(ol.quantity), 0) FROM orders_orderline ol
                JOIN orders_order o ON o.id = ol.order_id
                WHERE ol.variant_id = v.id AND o.status IN (%s, %s, %s) AND o.placed_at >= %s)
        FROM inventory_stockitem s
        JOIN inventory_warehouse w ON w.id = s.warehouse_id
        JOIN shop_product_variant v ON v.id = s.variant_id
        JOIN shop_product p ON p.id = v.product_id
        WHERE s.quantity - s.reserved <= %s AND w.is_active = %s
        ORDER BY s.quantity - s.reserved, v.sku
        """,
        [*SOLD_STATUSES, since, threshold, True],
    )
    return [LowStock(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


@dataclass(frozen=True)
class CouponResult:
    code: str
    promotion: str
    redemptions: int
    discount_given: Decimal
    revenue: Decimal


def coupon_effectiveness() -> list[CouponResult]:
    rows = _rows(
        """
        SELECT c.code, pr.name, COUNT(r.id), COALESCE(SUM(r.amount), 0), COALESCE(SUM(o.total), 0)
        FROM promotions_coupon c
        JOIN promotions_promotion pr ON pr.id = c.promotion_id
        LEFT JOIN promotions_couponredemption r ON r.coupon_id = c.id
        LEFT JOIN orders_order o ON o.id = r.order_id
        GROUP BY c.code, pr.name
        ORDER BY COUNT(r.id) DESC, c.code
        """,
        [],
    )
    return [CouponResult(r[0], r[1], r[2], money(r[3]), money(r[4])) for r in rows]


def best_reviewed_products(min_reviews: int = 3, limit: int = 10):
    """Products with avg_rating and review_count (not `reviews`: that name is the related manager)."""
    return list(
        Product.objects.raw(
            """
            SELECT p.*, AVG(r.rating) AS avg_rating, COUNT(r.id) AS review_count
            FROM shop_product p
            JOIN reviews_review r ON r.product_id = p.id AND r.is_approved = %s
            GROUP BY p.id
            HAVING COUNT(r.id) >= %s
            ORDER BY AVG(r.rating) DESC, COUNT(r.id) DESC
            LIMIT %s
            """,
            [True, min_reviews, limit],
        )
    )
