"""Which real servers a test needs, and what happens when one is missing.

On a laptop without the server, the test skips and says why. Under CI=true a missing server
fails the run: a skipped real-service test must never pass CI silently.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    env_var: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        default_port = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "amqp": 5672}
        return parts.hostname or "127.0.0.1", parts.port or default_port.get(parts.scheme, 0)

    def reachable(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection(self.address, timeout=timeout):
                return True
        except OSError:
            return False

    def missing_reason(self) -> str:
        host, port = self.address
        return f"{self.name} is not reachable at {host}:{port}; start it or point {self.env_var} at one"


POSTGRES = Service(
    "PostgreSQL",
    os.environ.get("FIGKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/figkit"),
    "FIGKIT_TEST_POSTGRES_URL",
)
REDIS = Service(
    "Redis",
    os.environ.get("FIGKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "FIGKIT_TEST_REDIS_URL",
)
RABBITMQ = Service(
    "RabbitMQ",
    os.environ.get("FIGKIT_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    "FIGKIT_TEST_RABBITMQ_URL",
)


def require(service: Service) -> str:
    """Return the service's URL, or skip (fail under CI=true) when it is not reachable."""
    if service.reachable():
        return service.url
    if under_ci():
        pytest.fail(
            f"{service.missing_reason()} (CI=true: real-service tests may not skip)", pytrace=False
        )
    pytest.skip(service.missing_reason())


# `make test` runs two pytest sessions side by side (tests/lanes.py). A test that restarts
# RabbitMQ must have it to itself: every other user of the server holds this lock shared.
RABBITMQ_LOCK = Path(tempfile.gettempdir()) / "figkit-tests-rabbitmq.lock"


class _ProcessLock:
    """One flock per process on RABBITMQ_LOCK, counted: a test that holds it shared (through
    its fixture) and then asks for it alone converts its own lock instead of waiting on it."""

    def __init__(self) -> None:
        self.file: IO[str] | None = None
        self.shared = 0

    def take(self, mode: int, within: float) -> None:
        if self.file is None:
            self.file = open(RABBITMQ_LOCK, "a")  # noqa: SIM115 - kept for the session
        deadline = time.monotonic() + within
        while True:
            try:
                fcntl.flock(self.file, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"RabbitMQ stayed in use by another test session for {within:.0f} s "
                                f"(lock {RABBITMQ_LOCK})", pytrace=False)  # fmt: skip
                time.sleep(0.2)

    def settle(self) -> None:
        assert self.file is not None
        fcntl.flock(self.file, fcntl.LOCK_SH if self.shared else fcntl.LOCK_UN)


_rabbitmq_lock = _ProcessLock()


@contextmanager
def rabbitmq_in_use(*, alone: bool = False, within: float = 600.0) -> Iterator[None]:
    """Hold RabbitMQ shared (a test that uses it) or alone (a test that restarts it)."""
    lock = _rabbitmq_lock
    if alone:
        lock.take(fcntl.LOCK_EX, within)
    else:
        if lock.shared == 0:
            lock.take(fcntl.LOCK_SH, within)
        lock.shared += 1
    try:
        yield
    finally:
        if not alone:
            lock.shared -= 1
        lock.settle()  # back to shared while this process still uses it, else released
