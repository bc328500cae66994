from django.apps import AppConfig


class SeamConfig(AppConfig):
    name = "extracted.seam"
    label = "seam"
    verbose_name = "data seam (outbox, inbox, ownership)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from extracted.seam import capture, settings, tracing

        capture.connect(settings.domains())
        tracing.configure(settings.service_name)  # one trace across the seam: docs/tracing.md
