"""A small catalogue as the contract carries it, loaded into both sides for the contract tests:
a parent and a child category, two brands, four products (one inactive, one without a brand and
digital, one without variants), non-sequential ids as the owner hands them out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from extracted.catalog.contract import (
    BrandState,
    CategoryState,
    DigitalState,
    ImageState,
    ProductState,
    VariantState,
)

CREATED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
UPDATED = datetime(2026, 11, 20, 17, 5, 0, tzinfo=UTC)

LIGHTING = CategoryState(id=10, name="Lighting", slug="lighting")
LAMPS = CategoryState(id=11, name="Lamps & Shades", slug="lamps", parent_id=10)
CATEGORIES = [LIGHTING, LAMPS]

LUMEN = BrandState(id=3, name="Lumen", slug="lumen")
NORDLICHT = BrandState(id=7, name="Nordlicht Ærø", slug="nordlicht")
BRANDS = [LUMEN, NORDLICHT]


def product(**fields) -> ProductState:
    defaults = {
        "description": "",
        "brand_id": None,
        "rating_avg": Decimal("0.00"),
        "rating_count": 0,
        "created_at": CREATED,
        "updated_at": UPDATED,
    }
    return ProductState(**{**defaults, **fields})


DESK_LAMP = product(
    id=101,
    name="Brass Desk Lamp",
    slug="brass-desk-lamp",
    description="Warm light for late reading.",
    category_id=LAMPS.id,
    brand_id=LUMEN.id,
    base_price=Decimal("19.90"),
    rating_avg=Decimal("4.50"),
    rating_count=12,
    tags=["eco", "new"],
    variants=[
        VariantState(
            id=501,
            sku="LMP-BR-S",
            name="Small",
            price=Decimal("19.90"),
            weight_grams=800,
            attributes={"colour": "brass"},
        ),
        VariantState(
            id=502,
            sku="LMP-BR-L",
            name="Large",
            price=Decimal("29.00"),
            weight_grams=1200,
            attributes={"colour": "brass", "size": {"cm": 45}},
        ),
    ],
    images=[
        ImageState(url="/img/lamp-1.jpg", alt="from the front", position=0),
        ImageState(url="/img/lamp-2.jpg", position=1),
    ],
)
GUIDE = product(
    id=102,
    name="Lichtführer: a guide to light ✨",
    slug="light-guide-ebook",
    description="Zwölf Kapitel über Licht.",
    category_id=LIGHTING.id,
    base_price=Decimal("7.00"),
    variants=[VariantState(id=503, sku="EBK-LG", price=Decimal("7.00"), weight_grams=0)],
    digital=DigitalState(download_url="https://files.example/guide.pdf", license_key_required=True),
)
FLOOR_LAMP = product(
    id=105,
    name="Floor Lamp",
    slug="floor-lamp",
    category_id=LAMPS.id,
    brand_id=NORDLICHT.id,
    base_price=Decimal("149.00"),
    rating_avg=Decimal("3.75"),
    rating_count=4,
)
OLD_LAMP = product(
    id=109,
    name="Old Lamp",
    slug="old-lamp",
    category_id=LAMPS.id,
    brand_id=LUMEN.id,
    base_price=Decimal("5.00"),
    is_active=False,
    variants=[VariantState(id=509, sku="LMP-OLD", price=Decimal("5.00"), weight_grams=900)],
)
PRODUCTS = [DESK_LAMP, GUIDE, FLOOR_LAMP, OLD_LAMP]


def as_json(categories=CATEGORIES, brands=BRANDS, products=PRODUCTS) -> str:
    """The states as the probe reads them on stdin."""
    return json.dumps(
        {
            "catalog.category": [s.model_dump(mode="json") for s in categories],
            "catalog.brand": [s.model_dump(mode="json") for s in brands],
            "catalog.product": [s.model_dump(mode="json") for s in products],
        }
    )
