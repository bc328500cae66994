"""`manage.py saga list|show ID|resume|retry ID`: see and drive the sagas of this side."""

from __future__ import annotations

import json
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from extracted.seam import saga
from extracted.seam.events import SeamError
from extracted.seam.models import SagaRun


class Command(BaseCommand):
    help = "List, show, resume and retry sagas (docs/saga.md)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the newest sagas, and how many are in each status")
        listing.add_argument("--status", choices=[*saga.ACTIVE, *saga.FINISHED, saga.STUCK])
        listing.add_argument("--limit", type=int, default=20)
        listing.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one saga: its state, data and history")
        show.add_argument("id")
        show.add_argument("--json", action="store_true")
        resume = sub.add_parser(
            "resume", help="drive on the sagas whose driver died or whose retry is due"
        )
        resume.add_argument(
            "--loop", action="store_true", help="keep doing it, every --every seconds"
        )
        resume.add_argument("--every", type=float, default=2.0)
        retry = sub.add_parser("retry", help="drive a stuck saga's compensation again")
        retry.add_argument("id")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except (SeamError, SagaRun.DoesNotExist, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def _list(self, *, status=None, limit=20, json=False, **_):
        runs = SagaRun.objects.order_by("-created_at")
        if status:
            runs = runs.filter(status=status)
        counts = dict(SagaRun.objects.values_list("status").annotate(n=Count("id")).order_by())
        rows = [_summary(run) for run in runs[:limit]]
        if json:
            self.stdout.write(_dumps({"counts": counts, "sagas": rows}))
            return
        self.stdout.write("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no sagas")
        for row in rows:
            self.stdout.write(f"{row['id']}  {row['saga']:<10} {row['status']:<12} step {row['step']:<14} "
                              f"{row['updated_at']}  {row['error'][:80]}")  # fmt: skip

    def _show(self, *, id, json=False, **_):
        run = SagaRun.objects.get(pk=id)
        history = [
            {"at": entry.at.isoformat(), "step": entry.step, "phase": entry.phase,
             "outcome": entry.outcome, "attempt": entry.attempt, "detail": entry.detail}
            for entry in run.log.all()
        ]  # fmt: skip
        shown = {**_summary(run), "data": _redacted(run.data), "history": history}
        if json:
            self.stdout.write(_dumps(shown))
            return
        for key in (
            "id",
            "saga",
            "status",
            "step",
            "error",
            "created_at",
            "updated_at",
            "finished_at",
        ):
            self.stdout.write(f"{key:>12}: {shown[key]}")
        self.stdout.write(f"{'data':>12}: {_dumps(shown['data'])}")
        for entry in history:
            self.stdout.write(f"  {entry['at']}  {entry['phase']:<12} {entry['step']:<14} "
                              f"{entry['outcome']:<8} #{entry['attempt']} {entry['detail'][:100]}")  # fmt: skip

    def _resume(self, *, loop=False, every=2.0, **_):
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        while True:
            runs = saga.resume_due()
            for run in runs:
                self.stdout.write(f"saga {run.id}: {run.status}")
            if not loop or stopping:
                if not loop:
                    self.stdout.write(f"resumed {len(runs)} saga(s)")
                return
            time.sleep(every)
            if stopping:
                return

    def _retry(self, *, id, **_):
        run = saga.retry(id)
        self.stdout.write(f"saga {run.id}: {run.status}")
        if run.status == saga.STUCK:
            raise CommandError(f"saga {run.id} is still stuck: {run.error}")


def _summary(run: SagaRun) -> dict:
    definition = saga.definition(run.saga)
    steps = definition.steps
    return {
        "id": str(run.id), "saga": definition.name, "status": run.status,
        "step": steps[run.step].name if run.step < len(steps) else "-",
        "attempts": run.attempts, "error": run.error,
        "created_at": run.created_at.isoformat(), "updated_at": run.updated_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }  # fmt: skip


def _redacted(data: dict) -> dict:
    return {k: ("***" if "token" in k or "secret" in k else v) for k, v in data.items()}


def _dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
