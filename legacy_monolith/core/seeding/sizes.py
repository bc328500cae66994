"""How big a seeded shop is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    customers: int
    products: int
    orders: int
    staff: int = 2  # at least one: they ship orders and issue refunds


SIZES = {
    # A demo: every page has something on it, seeded in a couple of seconds.
    "small": Size(customers=50, products=120, orders=300),
    # Load and analysis work: ~6,000 variants, ~105,000 order lines.
    "large": Size(customers=5_000, products=2_000, orders=35_000),
}
