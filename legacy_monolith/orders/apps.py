from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "legacy_monolith.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # Signal receivers are connected on import.
        from . import receivers  # noqa: F401
