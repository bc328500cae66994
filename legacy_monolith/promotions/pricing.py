from decimal import Decimal

from django.utils import timezone

from legacy_monolith.core.utils import money
from legacy_monolith.promotions.models import Coupon


class CouponInvalid(Exception):
    pass


def find_valid_coupon(code: str) -> Coupon:
    now = timezone.now()
    coupon = (
        Coupon.objects.select_related("promotion")
        .filter(code__iexact=code.strip(), is_active=True, promotion__starts_at__lte=now, promotion__ends_at__gte=now)
        .first()
    )
    if coupon is None:
        raise CouponInvalid(f"coupon {code!r} is not valid")
    if coupon.max_uses and coupon.used_count >= coupon.max_uses:
        raise CouponInvalid(f"coupon {code!r} has been used up")
    return coupon


def discount_for(coupon: Coupon | None, subtotal: Decimal) -> Decimal:
    if coupon is None:
        return Decimal("0.00")
    promo = coupon.promotion
    if subtotal < promo.min_order_total:
        return Decimal("0.00")
    if promo.kind == promo.Kind.PERCENT:
        return money(subtotal * promo.value / 100)
    return min(money(promo.value), subtotal)
