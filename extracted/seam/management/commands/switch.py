"""`manage.py switch NAME [VALUE]`: show or set a live toggle (extracted.seam.switches)."""

from __future__ import annotations

import getpass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from extracted.seam import switches

# The switches this kit knows, their values, and the setting that holds the value until set.
KNOWN = {
    "checkout": ({"atomic", "saga"}, "CHECKOUT_MODE"),  # docs/saga.md
    "order-reads": ({"join", "compose"}, "ORDER_DETAIL_READS"),  # docs/composition.md
}


class Command(BaseCommand):
    help = "Show or set a live toggle, e.g. `switch checkout saga` (running processes see it within a second)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(KNOWN))
        parser.add_argument("value", nargs="?")

    def handle(self, *args, name, value=None, **options):
        allowed, setting = KNOWN[name]
        default = str(getattr(settings, setting, ""))
        if value is None:
            self.stdout.write(f"{name}: {switches.value(name, default)}")
            return
        if value not in allowed:
            raise CommandError(f"{name} can be {' or '.join(sorted(allowed))}, not {value!r}")
        before = switches.set_value(name, value, by=getpass.getuser())
        self.stdout.write(f"{name}: {before or default} -> {value}")
