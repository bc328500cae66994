from django.contrib import admin

from legacy_monolith.cart.models import Cart, CartItem, Wishlist


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "session_key", "coupon", "checked_out_at", "updated_at")
    inlines = [CartItemInline]


admin.site.register(Wishlist, list_display=("user", "updated_at"))
