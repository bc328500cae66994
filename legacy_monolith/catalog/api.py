"""The hand-rolled JSON API of the catalogue (no framework: it predates the team's DRF days)."""

from decimal import Decimal
from typing import Annotated, Any

from django.db import transaction
from django.db.models import Q, Sum
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
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
)
from pydantic_core import PydanticCustomError

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.core.utils import CENTS, json_error, page_bounds, read_json
from legacy_monolith.inventory.models import StockItem


def product_json(product: Product, detail: bool = False) -> dict:
    data = {
        "id": product.pk,
        "slug": product.slug,
        "name": product.name,
        "price": str(product.base_price),
        "category": product.category.slug,
        "brand": product.brand.name if product.brand_id else None,
        "rating": str(product.rating_avg),
        "reviews": product.rating_count,
    }
    if detail:
        data["description"] = product.description
        # By id, as the catalog service lists them (the model has no ordering of its own).
        data["variants"] = [
            {"id": v.pk, "sku": v.sku, "name": v.name, "price": str(v.price)}
            for v in sorted(product.variants.all(), key=lambda v: v.pk)
        ]
    return data


# The catalogue's routes are csrf_exempt, as a JSON API for programs is: a client without the
# CSRF cookie gets the 405 of require_GET for a POST, not the CSRF page (the catalog service
# answers the same).
@csrf_exempt
@require_GET
def product_list(request):
    products = (
        Product.objects.filter(is_active=True).select_related("category", "brand").order_by("id")
    )
    if category := request.GET.get("category"):
        products = products.filter(Q(category__slug=category) | Q(category__parent__slug=category))
    if query := request.GET.get("q"):
        products = products.filter(name__icontains=query)
    offset, limit = page_bounds(request)
    return JsonResponse(
        {
            "count": products.count(),
            "offset": offset,
            "limit": limit,
            "results": [product_json(p) for p in products[offset : offset + limit]],
        }
    )


def _detail(slug, active_only=True):
    products = (
        Product.objects.filter(slug=slug)
        .select_related("category", "brand")
        .prefetch_related("variants")
    )
    return (products.filter(is_active=True) if active_only else products).first()


@csrf_exempt
@require_http_methods(["GET", "PATCH"])
def product_detail(request, slug):
    if request.method == "PATCH":
        return product_update(request, slug)
    product = _detail(slug)
    if product is None:
        return json_error(f"no product {slug!r}", status=404)
    return JsonResponse(product_json(product, detail=True))


def _price_text(value: Any) -> Any:
    # Prices travel as strings, as the API writes them: a JSON number is a float to most clients.
    if not isinstance(value, str):
        raise PydanticCustomError("price_text", 'give the price as a string, e.g. "19.90"')
    return value


def _rating_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("rating_text", 'give the rating as a string, e.g. "4.50"')
    return value


class ProductPatch(BaseModel):
    """What a PATCH may change. The catalog service reads the same body with the same rules
    (extracted/catalog/writes.py), so a client gets the same answer from either side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field(default="", min_length=1, max_length=200)
    description: StrictStr = ""
    base_price: Annotated[
        Decimal,
        BeforeValidator(_price_text),
        Field(ge=0, max_digits=10, decimal_places=2),
        AfterValidator(lambda value: value.quantize(CENTS)),
    ] = Decimal(0)
    is_active: StrictBool = True
    # The rating is the reviews' (the monolith's): it sends it here once the service owns the catalog.
    rating_avg: Annotated[
        Decimal,
        BeforeValidator(_rating_text),
        Field(ge=0, le=5, max_digits=3, decimal_places=2),
        AfterValidator(lambda value: value.quantize(CENTS)),
    ] = Decimal(0)
    rating_count: StrictInt = Field(default=0, ge=0)


def parse_patch(request) -> ProductPatch:
    """The body as a ProductPatch; ValueError with a one-line message a client can act on."""
    data = read_json(request)
    try:
        return ProductPatch.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = f"{'.'.join(str(part) for part in first['loc']) or 'body'}: {first['msg']}"
        if first["type"] == "extra_forbidden":
            message += f" (a PATCH may change {', '.join(ProductPatch.model_fields)})"
        raise ValueError(message) from None


def product_update(request, slug):
    """Change a product (active or not, so that a PATCH can bring one back), saved through the
    model; answers with its detail as stored."""
    try:
        patch = parse_patch(request)
    except ValueError as exc:
        return json_error(str(exc))
    # When the catalog service owns the catalog, or a flip holds writes, the seam refuses the
    # save; its middleware (OwnershipErrors) answers 409 or 503.
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(slug=slug).first()
        if product is None:
            return json_error(f"no product {slug!r}", status=404)
        if patch.model_fields_set:
            for field in sorted(patch.model_fields_set):
                setattr(product, field, getattr(patch, field))
            product.save()
    return JsonResponse(product_json(_detail(slug, active_only=False), detail=True))


@csrf_exempt
@require_GET
def category_list(request):
    return JsonResponse(
        {
            "results": [
                {"slug": c.slug, "name": c.name, "parent": c.parent.slug if c.parent_id else None}
                for c in Category.objects.select_related("parent").order_by("id")
            ]
        }
    )


@require_GET
def product_availability(request, slug):
    if not Product.objects.filter(slug=slug).exists():
        return json_error(f"no product {slug!r}", status=404)
    rows = (
        StockItem.objects.filter(variant__product__slug=slug, warehouse__is_active=True)
        .values("variant__sku")
        .annotate(quantity=Sum("quantity"), reserved=Sum("reserved"))
        .order_by("variant__sku")
    )
    return JsonResponse(
        {
            "product": slug,
            "variants": [
                {"sku": r["variant__sku"], "available": max(r["quantity"] - r["reserved"], 0)}
                for r in rows
            ],
        }
    )
