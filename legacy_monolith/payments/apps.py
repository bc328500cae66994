from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "legacy_monolith.payments"
    label = "payments"
    verbose_name = "Payments"
