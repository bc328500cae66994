"""The Celery settings every side of the seam shares, so that the monolith and its services meet on
one broker with the same delivery guarantees. Use it in a Django settings module:

    from extracted.seam.broker import celery_settings
    globals().update(celery_settings(VAR_DIR))

Why each setting is there (docs/seam.md, "Delivery"):
- task_acks_late: a message is acknowledged after its task ran, so a worker that dies mid-task
  leaves it on the broker to be delivered again (at-least-once);
- task_reject_on_worker_lost: ... and a worker process killed by a signal requeues it instead
  of acking it;
- worker_prefetch_multiplier=1: a worker reserves one message at a time, so a long task does not
  sit on messages another worker could run, and a crash redelivers at most one;
- broker_transport_options visibility_timeout (Redis): an unacknowledged message comes back after
  this long; it must exceed the longest task, or a slow task runs twice;
- confirm_publish (RabbitMQ): publishing waits for the broker's confirm, so the relay marks an
  event sent only once the broker holds it;
- filesystem:// is kombu's filesystem transport with whole-file writes (FilesystemTransport
  below), so that no reader ever takes a message half written.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

VISIBILITY_TIMEOUT_S = 3600


def celery_settings(var_dir: Path, broker_url: str | None = None) -> dict[str, Any]:
    url = broker_url or os.environ.get("CELERY_BROKER_URL", "filesystem://")
    options: dict[str, Any]
    if url.startswith("filesystem"):
        folder = Path(var_dir) / "broker"
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    elif url.startswith(("redis", "rediss")):
        options = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    elif url.startswith(("amqp", "pyamqp")):
        options = {"confirm_publish": True}
    else:
        options = {}
    return {
        "CELERY_BROKER_URL": url,
        "CELERY_BROKER_TRANSPORT_OPTIONS": options,
        "CELERY_RESULT_BACKEND": None,
        "CELERY_TASK_IGNORE_RESULT": True,
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True,
    }


FILESYSTEM_TRANSPORT = "extracted.seam.broker:FilesystemTransport"


class FilesystemChannel(filesystem.Channel):
    """kombu's filesystem channel, except that a message is written whole before any reader can
    see it. kombu creates the message file and then writes it; a reader that lists the folder in
    between takes the empty file, fails to decode it after deleting it, and the message is lost
    (celery/kombu#1551; seen here: a consumer died in `make demo`). Here the message is written
    under a name no reader takes (a leading dot) and renamed into place, which is atomic within
    one folder."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


# Every filesystem:// URL of this process gets it, whoever builds the connection (Celery, the
# seam's consumer, a health check, a test that points an app at another broker): the fix follows
# the URL's scheme, as kombu resolves transports, instead of a setting that can disagree with it.
TRANSPORT_ALIASES["filesystem"] = FILESYSTEM_TRANSPORT


FILESYSTEM_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def make_filesystem_broker_folders(conf: Any) -> None:
    """kombu's filesystem transport expects its folders to exist; create them on the way in.
    `conf` is a Celery app's configuration (app.conf)."""
    if not str(conf.broker_url or "").startswith("filesystem"):
        return
    options = conf.broker_transport_options or {}
    for key in FILESYSTEM_FOLDERS:
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
