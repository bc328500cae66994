"""Liveness and readiness for a service (extracted/*): `/healthz` says the process answers;
`/readyz` says it can serve: the checks it names pass (the database answers, every migration
is applied, the broker is reachable). Each check runs in its own thread and is given
CHECK_TIMEOUT_S, so a hung database or broker makes /readyz slow by two seconds at most, never
stuck.

    healthz, readyz = probes({"database": check_database, "migrations": check_migrations})
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

CHECK_TIMEOUT_S = 2.0


class NotReady(Exception):
    """A check failed; the message is its one-line reason."""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_migrations() -> None:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        package = os.environ.get("DJANGO_SETTINGS_MODULE", "").rsplit(".", 1)[0]
        manage = f"python {package.replace('.', '/')}/manage.py" if package else "manage.py"
        raise NotReady(
            f"{len(plan)} migration(s) not applied ({names}{more}); run {manage} migrate"
        )


def check_broker() -> None:
    from kombu import Connection

    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=CHECK_TIMEOUT_S,
    ) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_S)


def run_checks(
    checks: dict[str, Callable[[], None]], timeout: float = CHECK_TIMEOUT_S
) -> dict[str, str]:
    """Each check's answer, "ok" or a one-line reason; all run at once, none is waited for
    past `timeout`."""
    results: dict[str, str] = {}

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
            results[name] = "ok"
        except NotReady as exc:
            results[name] = str(exc)
        except Exception as exc:  # a readiness probe reports every failure, it does not raise
            lines = str(exc).strip().splitlines()
            results[name] = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        finally:
            connections.close_all()  # the connections this thread opened

    threads = {
        name: threading.Thread(target=run, args=(name, check), name=f"readyz-{name}", daemon=True)
        for name, check in checks.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads.values():
        thread.join(max(deadline - time.monotonic(), 0))
    return {
        name: f"no answer within {timeout:g} s"
        if thread.is_alive()
        else results.get(name, "stopped without an answer")
        for name, thread in threads.items()
    }


def probes(checks: dict[str, Callable[[], None]]):
    """The /healthz and /readyz views of a service whose readiness is CHECKS."""

    @require_GET
    def healthz(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"status": "ok"})

    @require_GET
    def readyz(request: HttpRequest) -> JsonResponse:
        results = run_checks(checks)
        failing = [name for name, result in results.items() if result != "ok"]
        if failing:
            return JsonResponse(
                {"status": "not ready", "failing": failing, "checks": results}, status=503
            )
        return JsonResponse({"status": "ready", "checks": results})

    return healthz, readyz
