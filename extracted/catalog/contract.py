"""The catalog's published language: the state of each catalog aggregate as it crosses the seam.

Both sides import this module (the monolith to publish and check, the service to apply and
check) and nothing else of each other's, so it holds pydantic models only: no Django. A change
to a schema that old consumers cannot read is a new `version` of its event type.

One event carries the whole state of one aggregate (event-carried state transfer), so a
consumer needs no history: the highest version it has seen wins, and a stale or duplicate
event changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from extracted.seam.events import AggregateType


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryState(_State):
    id: int
    name: str = Field(max_length=100)
    slug: str = Field(max_length=50)
    parent_id: int | None = None


class BrandState(_State):
    id: int
    name: str = Field(max_length=100)
    slug: str = Field(max_length=50)


class VariantState(_State):
    id: int
    sku: str = Field(max_length=40)
    name: str = Field(default="", max_length=100)
    price: Decimal = Field(max_digits=10, decimal_places=2)
    weight_grams: int = Field(ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ImageState(_State):
    url: str = Field(max_length=300)
    alt: str = Field(default="", max_length=200)
    position: int = Field(ge=0)


class DigitalState(_State):
    download_url: str = ""
    license_key_required: bool = False


class ProductState(_State):
    """A product with what belongs to it: variants, images, tag names, the digital part."""

    id: int
    name: str = Field(max_length=200)
    slug: str = Field(max_length=50)
    description: str = ""
    category_id: int
    brand_id: int | None = None
    base_price: Decimal = Field(max_digits=10, decimal_places=2)
    is_active: bool = True
    rating_avg: Decimal = Field(max_digits=3, decimal_places=2)
    rating_count: int = Field(ge=0)
    created_at: datetime
    updated_at: datetime
    tags: list[str] = Field(default_factory=list)
    variants: list[VariantState] = Field(default_factory=list)
    images: list[ImageState] = Field(default_factory=list)
    digital: DigitalState | None = None


CATEGORY = AggregateType("catalog.category", CategoryState, version=1)
BRAND = AggregateType("catalog.brand", BrandState, version=1)
PRODUCT = AggregateType("catalog.product", ProductState, version=1)
# Order matters to a consumer that applies a snapshot: a product needs its category and brand.
AGGREGATES = (CATEGORY, BRAND, PRODUCT)
