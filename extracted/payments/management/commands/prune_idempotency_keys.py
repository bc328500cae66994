"""`manage.py prune_idempotency_keys`: forget idempotency keys past their retention."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from extracted.payments import keystore


class Command(BaseCommand):
    help = (
        "Forget idempotency keys first used longer ago than the retention "
        "(PAYMENTS_KEY_RETENTION_HOURS), except those whose request still runs. "
        "A retry under a forgotten key runs as a new request: keep keys longer than callers retry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=None,
            help="the retention, in hours (default: PAYMENTS_KEY_RETENTION_HOURS, "
            f"{settings.PAYMENTS_KEY_RETENTION_HOURS})",
        )

    def handle(self, *args: object, older_than_hours: float | None, **options: object) -> None:
        age = None if older_than_hours is None else timedelta(hours=older_than_hours)
        self.stdout.write(f"forgot {keystore.prune(age)} idempotency key(s)")
