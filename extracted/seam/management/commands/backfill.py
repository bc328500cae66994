from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from extracted.seam import settings as seam_settings
from extracted.seam.backfill import backfill, wait_sent
from extracted.seam.events import SeamError


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
                            help="then wait up to SECONDS for the relay to send the snapshot")  # fmt: skip

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
            left = wait_sent(result.last_seq, deadline_s=wait)
            if left:
                raise CommandError(
                    f"{left} event(s) of the snapshot are not sent yet after {wait:.0f} s; is the relay running?"
                )
            self.stdout.write(
                "the relay has sent the snapshot; check the follower with `reconcile "
                + domain
                + "`"
            )
