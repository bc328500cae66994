"""Believable, consistent shop data for the legacy monolith, built in memory and written in bulk.

`manage.py seed` is the command-line shell around `seed_shop`; the builders (reference,
people, catalogue, orders, stock, engagement, reports) each fill a part of the shop.
"""

from legacy_monolith.core.seeding.people import ADMIN_PASSWORD, ADMIN_USERNAME, CUSTOMER_PASSWORD
from legacy_monolith.core.seeding.shop import (
    PhaseResult,
    Reporter,
    SeedResult,
    ShopSeeder,
    seed_shop,
)
from legacy_monolith.core.seeding.sizes import SIZES, Size
from legacy_monolith.core.seeding.store import shop_has_data

__all__ = [
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "CUSTOMER_PASSWORD",
    "SIZES",
    "PhaseResult",
    "Reporter",
    "SeedResult",
    "ShopSeeder",
    "Size",
    "seed_shop",
    "shop_has_data",
]
