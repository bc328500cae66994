"""`manage.py switch NAME [VALUE]`: show or set a live toggle (extracted.seam.switches)."""

from __future__ import annotations

import getpass
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from extracted.seam import switches
from extracted.seam.models import Switch

# The switches this kit knows, their values, and the setting that holds the value until set.
# Only the side whose settings have that setting reads the switch.
KNOWN = {
    "checkout": ({"atomic", "saga"}, "CHECKOUT_MODE"),  # docs/saga.md
    "order-reads": ({"join", "compose"}, "ORDER_DETAIL_READS"),  # docs/composition.md
    "workshop-bug": ({"on", "off"}, "WORKSHOP_BUG"),  # docs/workshop.md, step 5
}
READ_BY = {"WORKSHOP_BUG": "extracted/catalog/manage.py"}  # the rest: legacy_monolith/manage.py


class Command(BaseCommand):
    help = "Show or set a live toggle, e.g. `switch checkout saga` (running processes see it within a second)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(KNOWN))
        parser.add_argument("value", nargs="?")
        parser.add_argument(
            "--json", action="store_true", help="print the value and when it was set, as JSON"
        )

    def handle(self, *args, name, value=None, json=False, **options):
        allowed, setting = KNOWN[name]
        if not hasattr(settings, setting):
            # Set here, it would change nothing: no process of this side reads it.
            where = READ_BY.get(setting, "legacy_monolith/manage.py")
            raise CommandError(
                f"no process of this side reads {name} (no {setting} in its settings): "
                f"run `{where} switch {name}`"
            )
        default = str(getattr(settings, setting))
        if value is None:
            if json:
                row = Switch.objects.filter(name=name).values("changed_at", "changed_by").first()
                self.stdout.write(_dumps(name, switches.value(name, default), row))
            else:
                self.stdout.write(f"{name}: {switches.value(name, default)}")
            return
        if value not in allowed:
            raise CommandError(f"{name} can be {' or '.join(sorted(allowed))}, not {value!r}")
        before = switches.set_value(name, value, by=getpass.getuser())
        if json:
            row = Switch.objects.filter(name=name).values("changed_at", "changed_by").first()
            self.stdout.write(_dumps(name, value, row))
        else:
            self.stdout.write(f"{name}: {before or default} -> {value}")


def _dumps(name: str, value: str, row: dict | None) -> str:
    """The value, and when and by whom the switch was set (null: never, the setting holds)."""
    return json.dumps(
        {
            "name": name,
            "value": value,
            "set_at": row["changed_at"].isoformat() if row else None,
            "set_by": row["changed_by"] if row else None,
        }
    )
