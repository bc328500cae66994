"""The broker side of the seam: one Celery app built from the Django settings of whichever side
runs (monolith or service), the queues, and the message every event travels in.

An event is sent as a Celery task message for the task `seam.apply_event`, so a Celery worker
of the receiving side is its production consumer, and `manage.py consume` reads the same queue
in the foreground. The task id is the event id.
"""

from __future__ import annotations

import contextlib
import time
from functools import cache
from typing import Any

from celery import Celery
from kombu import Queue

from extracted.seam.broker import make_filesystem_broker_folders

APPLY_TASK = "seam.apply_event"
CONFIRM_TIMEOUT_S = 30.0  # a broker that confirms nothing for this long counts as gone


@cache
def celery_app() -> Celery:
    app = Celery("seam", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    make_filesystem_broker_folders(app.conf)
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


class NotConfirmed(Exception):
    """The broker refused (nack) or did not confirm in time a message of the wave; `confirmed`
    holds the positions in the wave of those it did confirm."""

    def __init__(self, confirmed: list[int], message: str) -> None:
        super().__init__(message)
        self.confirmed = confirmed


class Publisher:
    """Sends events in waves and says which of them the broker has confirmed.

    `publish()` each message of a wave, then `confirm()` once. On RabbitMQ with publisher
    confirms the messages go out on one channel in confirm mode without waiting, and the wave's
    confirms are awaited together: one round trip (and one disk sync on the broker) per wave
    instead of one per event. Waiting for each confirm cost 0.6-0.8 ms an event on 2 shared
    cores; in waves of 50 a message costs about 0.22 ms, against 1.3 ms for `send()` with its
    confirm (bench/RESULTS.md, "Data seam"). The message is built and published by Celery's
    own two steps of send_task (create_task_message, send_task_message), so its format and
    Celery's publish signals (its tracing) are those of `send()`. Other brokers (filesystem,
    Redis) have no confirms to gather: each publish returns once the broker has the message,
    as `send()` does.

    The connection is kept from one wave to the next; after a broker error, `close()` it (and
    reset_connections()), and the next publish opens a fresh one.
    """

    def __init__(self) -> None:
        app = celery_app()
        self._confirming = bool(
            str(app.conf.broker_url or "").startswith(("amqp", "pyamqp"))
            and (app.conf.broker_transport_options or {}).get("confirm_publish")
        )
        self._connection: Any = None
        self._producer: Any = None
        self._next_tag = 1  # RabbitMQ numbers a confirming channel's messages from 1
        self._wave: list[int] = []  # delivery tags of this wave's messages, in order
        self._unconfirmed: set[int] = set()
        self._acked: set[int] = set()
        self._declared: set[str] = set()  # queues declared on this connection

    def publish(self, envelope: dict[str, Any], destination: str, headers: dict[str, str] | None = None) -> None:  # fmt: skip
        """Hand one message to the broker; on RabbitMQ, without waiting for its confirm."""
        if not self._confirming:
            send(envelope, destination, headers)
            self._wave.append(0)
            return
        app = celery_app()
        producer = self._open()
        if destination not in self._declared:  # once per connection, not per message
            producer.maybe_declare(queue(destination))
            self._declared.add(destination)
        # send_task's own two steps, without its per-call routing and result set-up, and with a
        # one-line argsrepr: Celery's repr of the whole envelope took a fifth of the relay's
        # time. Body, headers and properties are otherwise those send_task makes, and Celery's
        # publish signals (its tracing) fire as for send_task.
        message = app.amqp.create_task_message(
            envelope["id"], APPLY_TASK, [envelope], {}, reply_to=app.thread_oid,
            ignore_result=None, argsrepr=_short_repr(envelope), kwargsrepr="{}",
        )  # fmt: skip
        app.amqp.send_task_message(
            producer, APPLY_TASK, message, queue=destination, retry=False,
            headers=headers or {}, declare=[],
        )  # fmt: skip
        self._wave.append(self._next_tag)
        self._unconfirmed.add(self._next_tag)
        self._next_tag += 1

    def confirm(self, timeout: float = CONFIRM_TIMEOUT_S) -> int:
        """Wait for the confirms of the messages published since the last call; returns how many
        there were. Raises NotConfirmed, with the positions in the wave that the broker did
        confirm, if it refused any or did not answer in time."""
        wave, self._wave = self._wave, []
        if not self._confirming:
            return len(wave)
        deadline = time.monotonic() + timeout
        while self._unconfirmed.intersection(wave) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self._connection.drain_events(timeout=max(0.0, min(deadline - time.monotonic(), 1.0)))  # fmt: skip
        done = [i for i, tag in enumerate(wave) if tag in self._acked]
        self._acked.difference_update(wave)
        if len(done) < len(wave):
            raise NotConfirmed(
                done, f"the broker confirmed {len(done)} of {len(wave)} message(s) of the wave"
            )
        return len(wave)

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        self._next_tag, self._wave = 1, []
        self._unconfirmed.clear()
        self._acked.clear()
        self._declared.clear()
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail any way
                connection.close()

    def _open(self) -> Any:
        """The producer, on a channel in confirm mode of a connection whose own per-message
        wait is off (this class waits per wave)."""
        if self._producer is None:
            app = celery_app()
            connection = app.connection_for_write(transport_options={"confirm_publish": False})
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._connection = connection
            self._producer = app.amqp.Producer(channel, auto_declare=False)
        return self._producer

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._unconfirmed if t <= tag} if multiple else {tag}
        self._unconfirmed.difference_update(settled)
        return settled

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._acked.update(self._settle(tag, multiple))

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)


def _short_repr(envelope: dict[str, Any]) -> str:
    """The task's argsrepr (what Flower and worker logs show): which event, not its payload."""
    return (
        f"({envelope.get('type')} {envelope.get('aggregate_type')}:{envelope.get('aggregate_id')}"
        f" v{envelope.get('version')} {envelope.get('id')},)"
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
