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
    """After a broker error: drop pooled connections so the next send opens a fresh one."""
    app = celery_app()
    with contextlib.suppress(Exception):  # a half-dead pool is what we are throwing away
        app.pool.force_close_all()
    app.amqp._producer_pool = None


def _make_filesystem_folders(app: Celery) -> None:
    from pathlib import Path

    conf = app.conf
    if not str(conf.broker_url or "").startswith("filesystem"):
        return
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = (conf.broker_transport_options or {}).get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
