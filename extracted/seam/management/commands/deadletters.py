import json

from django.core.management.base import BaseCommand, CommandError

from extracted.seam.inbox import replay
from extracted.seam.models import DeadLetter


class Command(BaseCommand):
    help = (
        "List the events this side could not apply and no newer version has overtaken, or replay "
        "them once the cause is fixed."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "replay"], nargs="?", default="list")
        parser.add_argument("ids", nargs="*", help="dead letter numbers to replay (from list)")
        parser.add_argument(
            "--all", action="store_true", help="replay every dead letter not yet replayed"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, action="list", ids=(), all=False, json=False, **options):
        pending = DeadLetter.objects.filter(resolved_at__isnull=True)
        if action == "list":
            rows = [
                {"number": d.pk, "event_id": str(d.event_id), "type": d.event_type, "attempts": d.attempts,
                 "error": d.error, "at": d.created_at.isoformat()}
                for d in pending
            ]  # fmt: skip
            if json:
                self.stdout.write(_dumps({"dead_letters": rows}))
            elif not rows:
                self.stdout.write("no dead letters")
            for row in [] if json else rows:
                self.stdout.write(
                    f"{row['number']:>5}  {row['type']:<32} {row['attempts']} attempt(s)  {row['error']}"
                )
            return
        if not ids and not all:
            raise CommandError(
                "name the dead letters to replay (numbers from `deadletters list`) or pass --all"
            )
        chosen = pending if all else pending.filter(pk__in=[int(i) for i in ids if i.isdigit()])
        if ids and chosen.count() != len(ids):
            raise CommandError(
                f"no pending dead letter numbered {', '.join(ids)}; see `deadletters list`"
            )
        results = {letter.pk: replay(letter) for letter in list(chosen)}
        for number, outcome in results.items():
            self.stdout.write(f"{number}: {outcome}")
        if any(outcome == "dead" for outcome in results.values()):
            raise CommandError("some dead letters still fail; see `deadletters list` for the error")


def _dumps(data) -> str:
    return json.dumps(data, indent=2)
