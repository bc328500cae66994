from django.db.models import Sum

from legacy_monolith.cart.models import CartItem


def cart_summary(request):
    """Every page shows the cart badge, so every page queries the cart tables."""
    session_key = request.session.session_key if hasattr(request, "session") else None
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        items = CartItem.objects.filter(cart__user=request.user, cart__checked_out_at__isnull=True)
    elif session_key:
        items = CartItem.objects.filter(cart__session_key=session_key, cart__checked_out_at__isnull=True)
    else:
        return {"cart_count": 0}
    return {"cart_count": items.aggregate(n=Sum("quantity"))["n"] or 0}
