from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "legacy_monolith.reporting"
    label = "reporting"
    verbose_name = "Reporting"
