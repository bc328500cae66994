"""The catalog's write side: what a PATCH of a product may change, and how the change is saved.

The body is read by one pydantic model whose first error becomes the one-line answer of a 400;
the monolith reads the same body with the same rules (legacy_monolith/catalog/api.py), so a
client gets the same answer from either side.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from django.db import transaction
from django.utils import timezone
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from extracted.catalog.models import Product


class BadBody(ValueError):
    """The request body cannot be read as a product change; the message says why, in one line."""


def _price_text(value: Any) -> Any:
    # Prices travel as strings, as the API writes them: a JSON number is a float to most clients.
    if not isinstance(value, str):
        raise PydanticCustomError("price_text", 'give the price as a string, e.g. "19.90"')
    return value


CENTS = Decimal("0.01")


def _rating_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("rating_text", 'give the rating as a string, e.g. "4.50"')
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_price_text),
    Field(ge=0, max_digits=10, decimal_places=2),
    AfterValidator(lambda value: value.quantize(CENTS)),  # "19.9" is saved and shown as 19.90
    WithJsonSchema({"type": "string", "examples": ["19.90"]}),
]


class ProductPatch(BaseModel):
    """Any of these fields; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field(default="", min_length=1, max_length=200)
    description: StrictStr = ""
    base_price: Price = Decimal(0)
    is_active: StrictBool = True
    # The rating is the reviews' (the monolith's): it sends it here once the service owns the catalog.
    rating_avg: Annotated[
        Decimal,
        BeforeValidator(_rating_text),
        Field(ge=0, le=5, max_digits=3, decimal_places=2),
        AfterValidator(lambda value: value.quantize(CENTS)),
    ] = Decimal(0)
    rating_count: StrictInt = Field(default=0, ge=0)

    def changes(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in sorted(self.model_fields_set)}

    @classmethod
    def body_schema(cls) -> dict[str, Any]:
        """The JSON schema of the body for the OpenAPI page (defaults are not sent, so not shown)."""
        schema = cls.model_json_schema()
        for prop in schema["properties"].values():
            prop.pop("default", None)
        return schema


def parse_patch(body: bytes) -> ProductPatch:
    try:
        data = json.loads(body or b"{}")  # no body: no change
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBody(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadBody("body must be a JSON object")
    try:
        return ProductPatch.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        message = f"{where}: {first['msg']}"
        if first["type"] == "extra_forbidden":
            message += f" (a PATCH may change {', '.join(ProductPatch.model_fields)})"
        raise BadBody(message) from None


def update_product(slug: str, patch: ProductPatch) -> Product | None:
    """Apply the change to the product with this slug, active or not (so that a PATCH can bring
    one back); None when there is none. Saved through the model so that the seam sees it."""
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(slug=slug).first()
        if product is None:
            return None
        changes = patch.changes()
        if changes:
            for field, value in changes.items():
                setattr(product, field, value)
            product.updated_at = timezone.now()
            product.save()
    return product
