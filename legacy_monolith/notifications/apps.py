from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "legacy_monolith.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Signal receivers are connected on import.
        from . import receivers  # noqa: F401
