from django.http import JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.core.utils import json_error
from legacy_monolith.promotions.pricing import CouponInvalid, find_valid_coupon


@require_GET
def validate_coupon(request, code):
    try:
        coupon = find_valid_coupon(code)
    except CouponInvalid as exc:
        return json_error(str(exc), status=404)
    promo = coupon.promotion
    return JsonResponse({"code": coupon.code, "kind": promo.kind, "value": str(promo.value),
                         "min_order_total": str(promo.min_order_total), "ends_at": promo.ends_at.isoformat()})
