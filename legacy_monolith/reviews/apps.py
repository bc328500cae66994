from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "legacy_monolith.reviews"
    label = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        # Signal receivers are connected on import.
        from . import receivers  # noqa: F401
