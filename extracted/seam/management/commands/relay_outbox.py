import signal

from django.core.management.base import BaseCommand, CommandError

from extracted.seam.relay import BrokerUnavailable, Relay, backlog


class Command(BaseCommand):
    help = "Send the outbox to the broker, in order per aggregate; --once stops when it is empty."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="relay what is there, then exit")
        parser.add_argument("--batch", type=int, default=None, help="events claimed at a time")

    def handle(self, *args, once=False, batch=None, **options):
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        relay = Relay(batch=batch)
        if not once:
            self.stdout.write(f"relay: {backlog()} event(s) waiting; Ctrl-C stops", ending="\n")
            self.stdout.flush()
        try:
            stats = relay.run(once=once, should_stop=lambda: bool(stopping))
        except BrokerUnavailable as exc:
            raise CommandError(
                f"{exc}; {relay.stats.sent} event(s) went out before; run it again when the broker is up"
            ) from None
        self.stdout.write(f"relay: sent {stats.sent} event(s); {backlog()} left")
