"""The broker side of the seam: one Celery app built from the Django settings of whichever side
runs (monolith or service), the queues, and the message every event travels in.

An event is sent as a Celery task message for the task `seam.apply_event`, so a Celery worker
of the receiving side is its production consumer, and `manage.py consume` reads the same queue
in the foreground. The task id is the event id.
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

from celery import Celery
from kombu import Queue

APPLY_TASK = "seam.apply_event"


@cache
def celery_app() -> Celery:
    app = Celery("seam", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    _make_filesystem_folders(app)
    return app


def queue(name: str) -> Queue:
    """The queue as Celery declares it when it publishes to `name` (direct exchange of that name),
    so that a consumer declaring it agrees with the publisher."""
    return celery_app().amqp.queues[name]


def send(envelope: dict[str, Any], destination: str, headers: dict[str, str] | None = None) -> None:
    """Publish one event and return once the broker has it (RabbitMQ: publisher confirm; Redis:
    the server's reply; filesystem: the file written). Raises on any broker error."""
    celery_app().send_task(
        APPLY_TASK,
        args=[envelope],
        queue=destination,
        task_id=envelope["id"],
        headers=headers or {},
        retry=False,
    )


def reset_connections() -> None:
    """After a broker error: throw the pooled connections away, so the next send opens a fresh
    one. Celery's pools live in kombu's process-wide registry (kombu.pools), and a closed pool
    there refuses every later acquire, so the registry is reset, not just the pool closed."""
    from kombu import pools

    app = celery_app()
    app._pool = None
    app.amqp._producer_pool = None
    with contextlib.suppress(Exception):  # half-dead connections are what we are throwing away
        pools.reset()


def _make_filesystem_folders(app: Celery) -> None:
    from pathlib import Path

    conf = app.conf
    if not str(conf.broker_url or "").startswith("filesystem"):
        return
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = (conf.broker_transport_options or {}).get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
