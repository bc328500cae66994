"""Which real servers a test needs, and what happens when one is missing.

On a laptop without the server, the test skips and says why. Under CI=true a missing server
fails the run: a skipped real-service test must never pass CI silently.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
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
