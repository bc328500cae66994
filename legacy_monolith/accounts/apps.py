from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "legacy_monolith.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Signal receivers are connected on import.
        from . import receivers  # noqa: F401
