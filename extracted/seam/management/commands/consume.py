import signal

from django.core.management.base import BaseCommand, CommandError
from kombu.exceptions import OperationalError

from extracted.seam.consumer import BATCH, consume
from extracted.seam.settings import inbox_queue, service_name


class Command(BaseCommand):
    help = "Apply the events in this side's inbox queue in the foreground; --once stops when it is empty."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="apply what is queued, then exit")
        parser.add_argument(
            "--batch", type=int, default=BATCH, metavar="N",
            help=f"apply up to N events that have come in in one transaction (default {BATCH}; 1: one by one)",
        )  # fmt: skip

    def handle(self, *args, once=False, batch=BATCH, **options):
        if batch < 1:
            raise CommandError(f"--batch must be 1 or more, not {batch}")
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        if not once:
            self.stdout.write(f"consume: reading {inbox_queue(service_name())}; Ctrl-C stops")
            self.stdout.flush()
        try:
            outcomes = consume(once=once, should_stop=lambda: bool(stopping), batch=batch)
        except (OperationalError, OSError) as exc:
            raise CommandError(
                f"the broker is unreachable ({exc}); start it or set CELERY_BROKER_URL"
            ) from None
        summary = (
            ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing"
        )
        self.stdout.write(f"consume: {summary}")
