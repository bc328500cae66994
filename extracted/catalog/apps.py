from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "extracted.catalog"
    label = "catalog"
    verbose_name = "catalog service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The service's Celery app, loaded here rather than in the package's __init__: the
        # monolith imports extracted.catalog.contract and must not get a second Celery app.
        from extracted.catalog import celery  # noqa: F401
