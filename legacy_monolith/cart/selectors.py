"""Which cart a request means: the user's open cart when logged in, else the session's."""

from legacy_monolith.cart.models import Cart


def open_cart(request, create: bool = True) -> Cart | None:
    if request.user.is_authenticated:
        cart = Cart.objects.filter(user=request.user, checked_out_at__isnull=True).order_by("-id").first()
        if cart is None and create:
            cart = Cart.objects.create(user=request.user)
        return cart
    if not request.session.session_key:
        if not create:
            return None
        request.session.save()
    key = request.session.session_key
    cart = Cart.objects.filter(session_key=key, user__isnull=True, checked_out_at__isnull=True).first()
    if cart is None and create:
        cart = Cart.objects.create(session_key=key)
    return cart


def cart_json(cart: Cart | None) -> dict:
    if cart is None:
        return {"id": None, "items": [], "subtotal": "0.00", "coupon": None}
    items = list(cart.items.select_related("variant__product").order_by("id"))
    subtotal = sum((i.variant.price * i.quantity for i in items), start=0)
    return {
        "id": cart.pk,
        "items": [
            {"sku": i.variant.sku, "variant_id": i.variant_id, "product": i.variant.product.name,
             "quantity": i.quantity, "unit_price": str(i.variant.price), "line_total": str(i.variant.price * i.quantity)}
            for i in items
        ],
        "subtotal": f"{subtotal:.2f}",
        "coupon": cart.coupon.code if cart.coupon_id else None,
    }
