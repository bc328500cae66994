"""`make shop`: migrate and seed the shop on its embedded defaults, then serve it alone (with a Celery worker).

Idempotent: a second run keeps the data it made the first time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from extracted.seam.serving import port_free


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_monolith.demo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("MONOLITH_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MONOLITH_PORT", "8100")))
    parser.add_argument(
        "--size", choices=["small", "large"], default="small", help="seed size on first run"
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="do not start a Celery worker beside the server"
    )
    args = parser.parse_args(argv)

    if not port_free(args.host, args.port):
        print(
            f"demo: {args.host}:{args.port} is already in use; stop what runs there or pass MONOLITH_PORT=<free port>",
            file=sys.stderr,
        )
        return 2

    prepare_database(args.size)
    from django.conf import settings

    worker, worker_note = None, "not started"
    if not args.no_worker:
        worker = start_worker()
        try:
            seconds = prove_worker(
                lambda: None
                if worker.poll() is None
                else f"the Celery worker exited with code {worker.returncode} at start; see its output above"
            )
        except WorkerFailed as exc:
            stop(worker)
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        worker_note = (
            f"celery, broker {settings.CELERY_BROKER_URL} (pid {worker.pid}; "
            f"a task ran through it in {seconds:.1f} s)"
        )
        watch(worker)
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                "",
                f"Legacy shop monolith running at {base}/",
                f"  shop:      {base}/",
                f"  JSON API:  {base}/api/products/",
                f"  admin:     {base}/admin/   (user admin, password admin)",
                f"  worker:    {worker_note}",
                "Stop with Ctrl-C.",
                "",
            ]
        ),
        flush=True,
    )
    import uvicorn

    try:
        uvicorn.run(
            "legacy_monolith.config.asgi:application",
            host=args.host,
            port=args.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
        )
    finally:
        if worker is not None:
            stop(worker)
    return 0


def prepare_database(size: str = "small") -> None:
    """Migrate, and seed on first run: what every demo does before it serves the shop."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    database = settings.DATABASES["default"]
    print(f"demo: database {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed", size=size, if_empty=True)


class WorkerFailed(Exception):
    """The Celery worker died or ran no task: the demo must not say it is running."""


def start_worker() -> subprocess.Popen:
    """A Celery worker for the mail, stock and report tasks the shop queues."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "legacy_monolith.config", "--quiet", "worker",
         "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
    )  # fmt: skip


def prove_worker(stopped: Callable[[], str | None], timeout: float = 60) -> float:
    """Queue a real task (yesterday's sales snapshot) through the broker and wait until the
    worker has written its report run: the whole path, not just a process that started.
    `stopped` says why the worker is gone, or None while it is up. Returns the seconds it took;
    raises WorkerFailed when the worker dies or runs nothing."""
    from legacy_monolith.reporting.models import ReportRun
    from legacy_monolith.reporting.tasks import build_daily_sales_snapshot

    before = ReportRun.objects.filter(kind="daily_sales_snapshot").order_by("-pk").first()
    last = before.pk if before else 0
    started = time.monotonic()
    build_daily_sales_snapshot.delay()
    while time.monotonic() - started < timeout:
        if why := stopped():
            raise WorkerFailed(why)
        if ReportRun.objects.filter(
            kind="daily_sales_snapshot", pk__gt=last, finished_at__isnull=False
        ).exists():
            return time.monotonic() - started
        time.sleep(0.2)
    raise WorkerFailed(
        f"the Celery worker ran no task within {timeout:.0f} s; is the broker reachable?"
    )


def watch(worker: subprocess.Popen) -> None:
    """Stop the demo if the worker dies while the shop is served: a demo that says 'running'
    with a dead worker would lose every task the shop queues."""

    def wait() -> None:
        code = worker.wait()
        if not stopping.is_set():
            print(
                f"demo: the Celery worker stopped with code {code}; stopping the demo",
                file=sys.stderr,
            )
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=wait, name="demo-worker-watch", daemon=True).start()


stopping = threading.Event()


def stop(worker: subprocess.Popen) -> None:
    stopping.set()
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()


if __name__ == "__main__":
    sys.exit(main())
