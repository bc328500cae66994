from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "legacy_monolith.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
