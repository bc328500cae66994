from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "extracted.payments"
    label = "payments_service"
    verbose_name = "payments service"
    default_auto_field = "django.db.models.BigAutoField"
