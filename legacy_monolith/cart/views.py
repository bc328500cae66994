from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from legacy_monolith.cart.models import CartItem
from legacy_monolith.cart.selectors import cart_json, open_cart
from legacy_monolith.catalog.models import ProductVariant
from legacy_monolith.promotions.pricing import CouponInvalid, find_valid_coupon


def cart_detail(request):
    cart = open_cart(request, create=False)
    return render(request, "cart/cart.html", {"cart": cart_json(cart)})


@require_POST
def add_item(request):
    variant = get_object_or_404(ProductVariant, pk=request.POST.get("variant_id") or 0)
    try:
        quantity = max(int(request.POST.get("quantity", 1)), 1)
    except ValueError:
        quantity = 1
    cart = open_cart(request)
    item, created = CartItem.objects.get_or_create(cart=cart, variant=variant, defaults={"quantity": quantity})
    if not created:
        item.quantity += quantity
        item.save(update_fields=["quantity"])
    messages.success(request, f"Added {variant} to your cart.")
    return redirect("cart:detail")


@require_POST
def update_item(request, variant_id):
    cart = open_cart(request, create=False)
    item = get_object_or_404(CartItem, cart=cart, variant_id=variant_id)
    try:
        quantity = int(request.POST.get("quantity", item.quantity))
    except ValueError:
        quantity = item.quantity
    if quantity <= 0:
        item.delete()
    else:
        item.quantity = quantity
        item.save(update_fields=["quantity"])
    return redirect("cart:detail")


@require_POST
def remove_item(request, variant_id):
    cart = open_cart(request, create=False)
    CartItem.objects.filter(cart=cart, variant_id=variant_id).delete()
    return redirect("cart:detail")


@require_POST
def apply_coupon(request):
    cart = open_cart(request)
    try:
        coupon = find_valid_coupon(request.POST.get("code", ""))
    except CouponInvalid as exc:
        messages.error(request, str(exc))
    else:
        cart.coupon = coupon
        cart.save(update_fields=["coupon", "updated_at"])
        messages.success(request, f"Coupon {coupon.code} applied.")
    return redirect("cart:detail")
