"""The embedded broker (kombu's filesystem transport) as the seam configures it: a message is never
read before it is whole, so none is lost between a writer and a reader racing on the folder."""

from __future__ import annotations

import multiprocessing
import queue as queues

import pytest
from kombu import Connection

from extracted.seam.broker import (
    FILESYSTEM_TRANSPORT,
    celery_settings,
    make_filesystem_broker_folders,
)

MESSAGES = 3000


def options(folder) -> dict:
    return celery_settings(folder, "filesystem://")["CELERY_BROKER_TRANSPORT_OPTIONS"]


def write(transport: str, folder, count: int) -> None:
    with Connection(
        "filesystem://", transport=transport, transport_options=options(folder)
    ) as conn:
        producer = conn.Producer(serializer="json")
        for n in range(count):
            producer.publish(
                {"n": n, "pad": "x" * 20000},
                routing_key="race",
                declare=[conn.SimpleQueue("race").queue],
            )


def race(transport: str, folder) -> tuple[set[int], list[str]]:
    """A writer process publishes MESSAGES while this process takes them as fast as it can. With
    kombu's own transport ("kombu.transport.filesystem:Transport") a few dozen of 3,000 are lost
    to JSONDecodeError."""

    class Conf:
        broker_url = "filesystem://"
        broker_transport_options = options(folder)

    make_filesystem_broker_folders(Conf)
    writer = multiprocessing.get_context("spawn").Process(
        target=write, args=(transport, folder, MESSAGES)
    )
    got: set[int] = set()
    failures: list[str] = []
    with Connection(
        "filesystem://", transport=transport, transport_options=options(folder)
    ) as conn:
        inbox = conn.SimpleQueue("race")
        writer.start()
        idle = 0
        while len(got) < MESSAGES and idle < 200:
            try:
                message = inbox.get(timeout=0.01)
            except queues.Empty:
                idle += 0 if writer.is_alive() else 1
                continue
            except Exception as exc:  # what kombu's own transport raises on a half-written file
                failures.append(type(exc).__name__)
                continue
            got.add(message.payload["n"])
            message.ack()
        writer.join(30)
    return got, failures


def test_every_filesystem_url_gets_the_seams_transport_whoever_connects(tmp_path):
    """By the URL's scheme, as kombu resolves transports: Celery's app, a plain kombu connection,
    and an app pointed at filesystem:// after its settings were read all get it."""
    from celery import Celery

    from extracted.seam.transport import celery_app

    settings = celery_settings(tmp_path, "filesystem://")
    with Connection(
        "filesystem://", transport_options=settings["CELERY_BROKER_TRANSPORT_OPTIONS"]
    ) as conn:
        assert type(conn.transport).__name__ == "FilesystemTransport"
    if celery_app().conf.broker_url.startswith("filesystem"):
        with celery_app().connection_for_write() as conn:
            assert type(conn.transport).__name__ == "FilesystemTransport"
    other = Celery("other", broker="amqp://guest@127.0.0.1//", set_as_current=False)
    other.conf.broker_url = "filesystem://"
    other.conf.broker_transport_options = settings["CELERY_BROKER_TRANSPORT_OPTIONS"]
    with other.connection_for_write() as conn:
        assert type(conn.transport).__name__ == "FilesystemTransport"
    with Connection("amqp://guest@127.0.0.1//") as conn:  # other schemes are kombu's own
        assert type(conn.transport).__module__ == "kombu.transport.pyamqp"


@pytest.mark.timeout(120)
def test_no_message_is_read_half_written_or_lost(tmp_path):
    got, failures = race(FILESYSTEM_TRANSPORT, tmp_path)
    assert failures == []
    assert got == set(range(MESSAGES)), f"{MESSAGES - len(got)} of {MESSAGES} messages lost"
