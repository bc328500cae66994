from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from extracted.seam.composition import BAD_ANSWER, NOT_FOUND, Composer, Missing, Timeouts
from legacy_monolith.cart.selectors import open_cart
from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.core.utils import api_login_required, json_error, page_bounds, read_json
from legacy_monolith.orders.checkout import CheckoutError, CheckoutRequest, place_order
from legacy_monolith.orders.models import Order, OrderLine


def order_json(order: Order, detail: bool = False) -> dict:
    data = {
        "number": order.number,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "subtotal": str(order.subtotal),
        "discount": str(order.discount),
        "shipping_cost": str(order.shipping_cost),
        "total": str(order.total),
    }
    if detail:
        data["lines"] = [
            {
                "sku": line.sku,
                "product": line.product_name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in order.lines.all()
        ]
        data["shipments"] = [
            {
                "tracking_number": s.tracking_number,
                "status": s.status,
                "carrier": s.method.carrier.name,
            }
            for s in order.shipments.all()
        ]
    return data


# What an order's detail shows of the catalog today: the product as it is now, beside the line's
# snapshot (product_name, unit_price). ORDER_DETAIL_READS says where it comes from: "join" reads
# the catalog's tables in this database (the monolith's own, or its follower copy after the flip);
# "compose" asks the catalog service, in parallel, within COMPOSITION_TIMEOUT_S, and shows the
# order without the parts that did not come back (docs/composition.md).
READS = ("join", "compose")


@dataclass(frozen=True)
class LineCatalog:
    """One line's product as the catalog has it now, or why it is not there."""

    sku: str
    part: dict[str, Any] | None = None
    missing: Missing | None = None

    @property
    def unavailable(self) -> bool:
        """Missing for now (the service did not answer), not gone from the catalog."""
        return self.missing is not None and self.missing.reason != NOT_FOUND


@dataclass(frozen=True)
class OrderCatalog:
    lines: dict[int, LineCatalog]  # by OrderLine pk; a line without a variant has no entry

    def of(self, line: OrderLine) -> LineCatalog:
        return self.lines.get(line.pk) or LineCatalog(line.sku)

    @property
    def partial(self) -> bool:
        return any(line.missing is not None for line in self.lines.values())

    @property
    def missing(self) -> list[dict[str, Any]]:
        """Each product that did not come, once, with the lines (skus) it leaves bare."""
        by_product: dict[str, dict[str, Any]] = {}
        for line in self.lines.values():
            if line.missing is not None:
                entry = by_product.setdefault(line.missing.key, {
                    "product": line.missing.key, "skus": [], "reason": line.missing.reason,
                    "detail": line.missing.detail,
                })  # fmt: skip
                entry["skus"].append(line.sku)
        return list(by_product.values())

    @property
    def unavailable(self) -> list[str]:
        """Why parts are missing for now (timeout, connection_refused, ...), each once."""
        return sorted(
            {ln.missing.reason for ln in self.lines.values() if ln.missing and ln.unavailable}
        )


def order_detail_reads() -> str:
    """The setting, until `manage.py switch order-reads join|compose` sets it live."""
    from extracted.seam import switches

    reads = switches.value("order-reads", settings.ORDER_DETAIL_READS)
    if reads not in READS:
        raise ImproperlyConfigured(f"ORDER_DETAIL_READS is {reads!r}; set it to join or compose")
    return reads


def detail_lines(reads: str) -> Prefetch:
    """The order's lines, joined with the catalog's tables when the join is how it reads them."""
    lines = OrderLine.objects.order_by("pk")
    if reads == "join":
        lines = lines.select_related("variant__product__brand")
    return Prefetch("lines", queryset=lines)


def order_catalog(order: Order, reads: str) -> OrderCatalog:
    """What each of the order's lines shows of the catalog (its lines fetched by detail_lines)."""
    lines = list(order.lines.all())
    return OrderCatalog(_by_join(lines) if reads == "join" else _by_composition(lines))


def _catalog_part(product: dict[str, Any], variant_price: str | None) -> dict[str, Any]:
    return {
        "slug": product["slug"],
        "name": product["name"],
        "url": reverse("catalog:product-detail", args=[product["slug"]]),
        "price": variant_price,
        "brand": product["brand"],
        "rating": product["rating"],
    }


def _by_join(lines: list[OrderLine]) -> dict[int, LineCatalog]:
    found = {}
    for line in lines:
        if line.variant is None:  # the variant was deleted: nothing to show, nothing to ask
            continue
        product = line.variant.product
        if not product.is_active:  # as the service says of it: 404, no such active product
            gone = Missing(product.slug, NOT_FOUND, "the product is no longer active")
            found[line.pk] = LineCatalog(line.sku, missing=gone)
            continue
        as_served = {
            "slug": product.slug,
            "name": product.name,
            "brand": product.brand.name if product.brand_id else None,
            "rating": str(product.rating_avg),
        }
        found[line.pk] = LineCatalog(line.sku, _catalog_part(as_served, str(line.variant.price)))
    return found


def _by_composition(lines: list[OrderLine]) -> dict[int, LineCatalog]:
    # The line keeps the variant's id; the service's API is keyed by the product's slug, which
    # comes from the ids and slugs of this database's copy of the catalog. (A line that kept the
    # slug, or a service that answered by variant ids, would make this the last catalog read.)
    variant_ids = {line.variant_id for line in lines if line.variant_id is not None}
    slugs = dict(
        ProductVariant.objects.filter(pk__in=variant_ids).values_list("pk", "product__slug")
    )
    wanted = sorted({slugs[v] for v in variant_ids if v in slugs})
    composer = Composer.shared(
        settings.CATALOG_URL,
        Timeouts(total_s=settings.COMPOSITION_TIMEOUT_S),
        breaker_open_s=settings.COMPOSITION_BREAKER_OPEN_S,
    )
    composed = composer.fetch({slug: f"/api/products/{quote(slug)}/" for slug in wanted})
    missing = {m.key: m for m in composed.missing}
    found = {}
    for line in lines:
        slug = slugs.get(line.variant_id)
        if slug is None:
            continue
        if slug in missing:
            found[line.pk] = LineCatalog(line.sku, missing=missing[slug])
            continue
        product = composed.found[slug]
        try:
            variant = next((v for v in product["variants"] if v["id"] == line.variant_id), None)
            part = _catalog_part(product, variant["price"] if variant else None)
        except (KeyError, TypeError) as exc:
            detail = f"not a product as the catalog's API shows one ({type(exc).__name__}: {exc})"
            odd = Missing(slug, BAD_ANSWER, detail)
            found[line.pk] = LineCatalog(line.sku, missing=odd)
            continue
        found[line.pk] = LineCatalog(line.sku, part)
    return found


def order_detail_json(order: Order, catalog: OrderCatalog) -> dict[str, Any]:
    """The order as order_json(detail=True) gives it, each line with its `catalog` part (null
    when missing), and `partial` and `missing` saying what did not come and why."""
    data = order_json(order, detail=True)
    for line, shown in zip(order.lines.all(), data["lines"], strict=True):
        shown["catalog"] = catalog.of(line).part
    data["partial"] = catalog.partial
    data["missing"] = catalog.missing
    return data


@csrf_exempt  # token-less legacy API
@require_POST
@api_login_required
def checkout(request):
    try:
        data = read_json(request)
        req = CheckoutRequest(
            cart=open_cart(request),
            address_id=int(data["address_id"]),
            shipping_method_id=int(data["shipping_method_id"]),
            card_token=str(data["card_token"]),
        )
    except KeyError as exc:
        return json_error(f"{exc.args[0]} is required")
    except (TypeError, ValueError) as exc:
        return json_error(str(exc))
    try:
        order = place_order(req)
    except CheckoutError as exc:
        status = 409 if "out of stock" in str(exc) else 402 if "payment failed" in str(exc) else 400
        return json_error(str(exc), status=status)
    order = Order.objects.prefetch_related("lines", "shipments__method__carrier").get(pk=order.pk)
    return JsonResponse(order_json(order, detail=True), status=201)


@require_GET
@api_login_required
def order_list(request):
    orders = Order.objects.filter(customer__email=request.user.email).order_by("-placed_at")
    if status := request.GET.get("status"):
        orders = orders.filter(status=status)
    offset, limit = page_bounds(request, default_limit=20)
    return JsonResponse(
        {
            "count": orders.count(),
            "results": [order_json(o) for o in orders[offset : offset + limit]],
        }
    )


@require_GET
@api_login_required
def order_detail(request, number):
    reads = order_detail_reads()
    order = (
        Order.objects.filter(number=number, customer=request.user)
        .prefetch_related(detail_lines(reads), "shipments__method__carrier")
        .first()
    )
    if order is None:
        return json_error(f"no order {number!r}", status=404)
    return JsonResponse(order_detail_json(order, order_catalog(order, reads)))
