"""The catalog service as a real process for the tests: `python -m extracted.catalog` on a free
loopback port with its own var dir, and the probe (catalog_probe.py) run beside it on the same
database. The test process itself has the monolith's settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SETTINGS_ENV = {
    "DATABASE_URL",
    "CATALOG_DATABASE_URL",
    "CELERY_BROKER_URL",
    "DJANGO_SETTINGS_MODULE",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_database(server_url: str, prefix: str) -> str:
    """A new empty database on the server at `server_url`; its URL."""
    import psycopg

    base = server_url.rsplit("/", 1)[0]
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a catalog service on its embedded defaults, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    env.update(FIGKIT_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def probe(env: dict[str, str], *args: str, states: str = "{}") -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.extracted.catalog_probe", *args],
        cwd=REPO,
        env=env,
        input=states,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"probe {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class CatalogService:
    var_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return service_env(self.var_dir, **self.extra_env)

    def start(self, deadline_s: float = 60) -> CatalogService:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "extracted.catalog", "--port", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, _ = self.proc.communicate()
                pytest.fail(f"the catalog service exited with {self.proc.returncode}:\n{out}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"the catalog service did not answer on {self.url} within {deadline_s} s")

    def stop(self) -> str:
        """Stop it; what it printed."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out

    def probe(self, *args: str, states: str = "{}") -> dict:
        return probe(self.env, *args, states=states)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", timeout=10, **kwargs)
