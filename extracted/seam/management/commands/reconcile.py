import json

from django.core.management.base import BaseCommand, CommandError

from extracted.seam import settings as seam_settings
from extracted.seam.events import SeamError
from extracted.seam.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare a domain on both sides by counts and per-row checksums; --repair re-emits what differs."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the domain to compare, e.g. catalog")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--repair", action="store_true", help="re-emit the owner's state of every differing row"
        )

    def handle(self, *args, domain, json=False, repair=False, **options):
        try:
            result = reconcile(seam_settings.domain(domain), repair=repair)
        except SeamError as exc:
            raise CommandError(str(exc)) from None
        if json:
            self.stdout.write(_dumps(result.as_dict()))
        else:
            for name, counts in result.counts.items():
                self.stdout.write(
                    f"{name}: {counts['here']} here, {counts['there']} on {result.peer}"
                )
            for d in result.differences[:50]:
                self.stdout.write(f"  {d.kind:<8} {d.aggregate} {d.id}")
            if len(result.differences) > 50:
                self.stdout.write(
                    f"  ... and {len(result.differences) - 50} more (--json lists them all)"
                )
            verdict = (
                "no differences"
                if not result.differences
                else f"{len(result.differences)} difference(s)"
            )
            self.stdout.write(f"reconcile {domain}: {result.checked} checked, {verdict}"
                              + (f"; re-emitted {result.repaired}" if result.repaired else ""))  # fmt: skip
        if result.differences and not repair:
            raise SystemExit(1)


def _dumps(data) -> str:
    return json.dumps(data, indent=2)
