import time

import httpx
from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from extracted.seam import settings as seam_settings
from extracted.seam.backfill import backfill, wait_sent
from extracted.seam.events import SeamError
from extracted.seam.models import OutboxEvent


class Command(BaseCommand):
    help = "Copy a domain's current rows to its follower while writes go on: a snapshot at an outbox watermark, then the outbox catches up. Resumable."

    def add_arguments(self, parser):
        parser.add_argument("domain")
        parser.add_argument(
            "--restart",
            action="store_true",
            help="start a new snapshot instead of resuming an unfinished one",
        )
        parser.add_argument("--page", type=int, default=200, help="rows per transaction")
        parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                            help="then wait up to SECONDS until the follower has applied the snapshot")  # fmt: skip

    def handle(self, *args, domain, restart=False, page=200, wait=0, **options):
        columns = (
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        try:
            config = seam_settings.domain(domain)
            with Progress(*columns, disable=not self.stdout.isatty(), transient=True) as bar:
                tasks: dict[str, int] = {}

                def progress(name: str, done: int, total: int) -> None:
                    if name not in tasks:
                        tasks[name] = bar.add_task(name, total=total)
                    bar.update(tasks[name], completed=done, total=total)

                result = backfill(config, page=page, restart=restart, progress=progress)
        except SeamError as exc:
            raise CommandError(str(exc)) from None
        how = "resumed" if result.resumed else "started"
        self.stdout.write(
            f"backfill {domain}: run {result.run} ({how}) at outbox watermark {result.watermark}: "
            f"{result.emitted} snapshot event(s) written"
        )
        if wait:
            started = time.monotonic()
            left = wait_sent(result.last_seq, deadline_s=wait)
            if left:
                raise CommandError(
                    f"{left} event(s) of the snapshot are not sent yet after {wait:.0f} s; is the relay running?"
                )
            last = (
                OutboxEvent.objects.filter(seq__lte=result.last_seq)
                .order_by("-seq")
                .values_list("event_id", flat=True)
                .first()
            )
            if last is not None and not _applied_by_peer(
                config, str(last), wait - (time.monotonic() - started)
            ):
                raise CommandError(
                    f"{config.peer} has not applied the snapshot after {wait:.0f} s; is its consumer running?"
                )
            self.stdout.write(
                f"{config.peer} has applied the snapshot; `reconcile {domain}` compares both sides"
            )


def _applied_by_peer(config, event_id: str, seconds: float) -> bool:
    """Ask the peer (GET /seam/status/?applied=ID) until it has taken the event in."""
    deadline = time.monotonic() + max(seconds, 1.0)
    with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(
                    f"{config.peer_url.rstrip('/')}/seam/status/", params={"applied": event_id}
                )
                if response.status_code == 200 and response.json().get("applied"):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return False
