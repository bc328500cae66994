from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "legacy_monolith.cart"
    label = "cart"
    verbose_name = "Cart"
