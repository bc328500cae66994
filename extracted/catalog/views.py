"""The catalogue's pages, at the monolith's URLs. No cart and no reviews here: those stay on
the shop, and the product page says so."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from extracted.catalog.models import Category, Product

PER_PAGE = 24


def _shop_url() -> str:
    return settings.SEAM["DOMAINS"]["catalog"]["peer_url"].rstrip("/")


def _page(request: HttpRequest, products):
    return Paginator(products, PER_PAGE).get_page(request.GET.get("page"))


@require_safe
def category_list(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.filter(parent__isnull=True).prefetch_related("children")
    return render(request, "catalog/category_list.html", {"categories": categories})


@require_safe
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    products = Product.objects.filter(
        Q(category=category) | Q(category__parent=category), is_active=True
    ).select_related("brand")
    return render(
        request,
        "catalog/product_list.html",
        {"title": category.name, "page": _page(request, products)},
    )


@require_safe
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(
        Product.objects.filter(is_active=True)
        .select_related("category", "brand")
        .prefetch_related("variants"),
        slug=slug,
    )
    return render(
        request,
        "catalog/product_detail.html",
        {"product": product, "shop_url": f"{_shop_url()}/products/{product.slug}/"},
    )


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    products = Product.objects.none()
    if query:
        products = Product.objects.filter(
            Q(name__icontains=query)
            | Q(description__icontains=query)
            | Q(brand__name__icontains=query)
            | Q(category__name__icontains=query),
            is_active=True,
        ).select_related("brand")
    return render(
        request,
        "catalog/product_list.html",
        {
            "title": f"Search: {query}" if query else "Search",
            "query": query,
            "page": _page(request, products),
        },
    )
