from decimal import Decimal

from django.conf import settings

from legacy_monolith.core.utils import money
from legacy_monolith.shipping.models import ShippingMethod


def quote(method: ShippingMethod, subtotal: Decimal, weight_grams: int) -> Decimal:
    if subtotal >= Decimal(settings.SHOP_FREE_SHIPPING_OVER):
        return Decimal("0.00")
    surcharge = Decimal(max(weight_grams - 5000, 0) // 1000) * Decimal("1.50")
    return money(method.price + surcharge)
