from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "legacy_monolith.core"
    label = "core"
    verbose_name = "Core"
