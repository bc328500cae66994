from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "legacy_monolith.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
