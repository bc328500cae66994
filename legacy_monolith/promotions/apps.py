from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "legacy_monolith.promotions"
    label = "promotions"
    verbose_name = "Promotions"
