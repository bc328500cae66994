"""The hand-rolled JSON API of the catalogue (no framework: it predates the team's DRF days)."""

from django.db.models import Q, Sum
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.core.utils import json_error, page_bounds
from legacy_monolith.inventory.models import StockItem


def product_json(product: Product, detail: bool = False) -> dict:
    data = {
        "id": product.pk, "slug": product.slug, "name": product.name, "price": str(product.base_price),
        "category": product.category.slug, "brand": product.brand.name if product.brand_id else None,
        "rating": str(product.rating_avg), "reviews": product.rating_count,
    }
    if detail:
        data["description"] = product.description
        data["variants"] = [
            {"id": v.pk, "sku": v.sku, "name": v.name, "price": str(v.price)} for v in product.variants.all()
        ]
    return data


@require_GET
def product_list(request):
    products = Product.objects.filter(is_active=True).select_related("category", "brand").order_by("id")
    if category := request.GET.get("category"):
        products = products.filter(Q(category__slug=category) | Q(category__parent__slug=category))
    if query := request.GET.get("q"):
        products = products.filter(name__icontains=query)
    offset, limit = page_bounds(request)
    return JsonResponse({
        "count": products.count(), "offset": offset, "limit": limit,
        "results": [product_json(p) for p in products[offset:offset + limit]],
    })


@require_GET
def product_detail(request, slug):
    product = (
        Product.objects.filter(slug=slug, is_active=True).select_related("category", "brand")
        .prefetch_related("variants").first()
    )
    if product is None:
        return json_error(f"no product {slug!r}", status=404)
    return JsonResponse(product_json(product, detail=True))


@require_GET
def category_list(request):
    return JsonResponse({"results": [
        {"slug": c.slug, "name": c.name, "parent": c.parent.slug if c.parent_id else None}
        for c in Category.objects.select_related("parent").order_by("id")
    ]})


@require_GET
def product_availability(request, slug):
    if not Product.objects.filter(slug=slug).exists():
        return json_error(f"no product {slug!r}", status=404)
    rows = (
        StockItem.objects.filter(variant__product__slug=slug, warehouse__is_active=True)
        .values("variant__sku").annotate(quantity=Sum("quantity"), reserved=Sum("reserved")).order_by("variant__sku")
    )
    return JsonResponse({"product": slug, "variants": [
        {"sku": r["variant__sku"], "available": max(r["quantity"] - r["reserved"], 0)} for r in rows
    ]})
