from django.contrib import admin

from legacy_monolith.promotions.models import Coupon, CouponRedemption, Promotion

admin.site.register(Promotion, list_display=("name", "kind", "value", "starts_at", "ends_at"))
admin.site.register(Coupon, list_display=("code", "promotion", "used_count", "max_uses", "is_active"),
                    search_fields=("code",))
admin.site.register(CouponRedemption, list_display=("coupon", "order", "user", "amount", "redeemed_at"))
