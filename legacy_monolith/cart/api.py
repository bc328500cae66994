from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from legacy_monolith.cart.models import CartItem
from legacy_monolith.cart.selectors import cart_json, open_cart
from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.core.utils import json_error, read_json


@require_GET
def cart_view(request):
    return JsonResponse(cart_json(open_cart(request, create=False)))


@csrf_exempt  # the legacy JSON API is token-less; the mobile app never sent CSRF tokens
@require_http_methods(["POST"])
def add_item(request):
    try:
        data = read_json(request)
        sku = str(data["sku"])
        quantity = int(data.get("quantity", 1))
    except ValueError as exc:
        return json_error(str(exc))
    except KeyError:
        return json_error("sku is required")
    if quantity < 1:
        return json_error("quantity must be at least 1")
    variant = ProductVariant.objects.filter(sku=sku).first()
    if variant is None:
        return json_error(f"no variant with sku {sku!r}", status=404)
    cart = open_cart(request)
    item, created = CartItem.objects.get_or_create(cart=cart, variant=variant, defaults={"quantity": quantity})
    if not created:
        item.quantity += quantity
        item.save(update_fields=["quantity"])
    return JsonResponse(cart_json(cart), status=201 if created else 200)


@csrf_exempt
@require_http_methods(["DELETE"])
def remove_item(request, sku):
    cart = open_cart(request, create=False)
    deleted, _ = CartItem.objects.filter(cart=cart, variant__sku=sku).delete() if cart else (0, None)
    if not deleted:
        return json_error(f"{sku!r} is not in the cart", status=404)
    return JsonResponse(cart_json(cart))
