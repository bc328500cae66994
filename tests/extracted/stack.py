"""Both sides of the catalog seam as real processes, for the tests that kill them.

A `Stack` has the monolith's and the catalog service's settings (databases, broker, var dir),
runs each side's manage.py commands, and starts and kills their long-running processes (relay,
consumer, servers) with logs under the test's folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
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
MONOLITH_MANAGE = str(REPO / "legacy_monolith" / "manage.py")
CATALOG_MANAGE = str(REPO / "extracted" / "catalog" / "manage.py")
TOKEN = "seam-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_database(server_url: str, prefix: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    root: Path
    broker_url: str = "filesystem://"
    monolith_db: str | None = None
    catalog_db: str | None = None
    catalog_port: int = field(default_factory=free_port)
    monolith_port: int = field(default_factory=free_port)
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    # Queues of this stack only: a benchmark or another run on the same broker never reads them.
    queue_prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}.")
    proxy_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)

    @property
    def catalog_url(self) -> str:
        return f"http://127.0.0.1:{self.catalog_port}"

    def env(self, side: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "CATALOG_DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}  # fmt: skip
        env.update(
            FIGKIT_VAR_DIR=str(self.root / "var"),
            CELERY_BROKER_URL=self.broker_url,
            CATALOG_URL=self.catalog_url,
            MONOLITH_URL=f"http://127.0.0.1:{self.monolith_port}",
            SEAM_TOKEN=TOKEN,
            SEAM_QUEUE_PREFIX=self.queue_prefix,
            PYTHONUNBUFFERED="1",
        )
        if side == "monolith" and self.monolith_db:
            env["DATABASE_URL"] = self.monolith_db
        if side == "catalog" and self.catalog_db:
            env["CATALOG_DATABASE_URL"] = self.catalog_db
        return env

    def manage(
        self,
        side: str,
        *args: str,
        timeout: float = 300,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        script = MONOLITH_MANAGE if side == "monolith" else CATALOG_MANAGE
        result = subprocess.run([sys.executable, script, *args], cwd=REPO, env={**self.env(side), **(env or {})},
                                capture_output=True, text=True, timeout=timeout)  # fmt: skip
        if check and result.returncode != 0:
            pytest.fail(
                f"{side} manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def shell(self, side: str, code: str, timeout: float = 300) -> str:
        return self.manage(side, "shell", "-c", code, timeout=timeout).stdout

    def start(
        self, name: str, side: str, *args: str, argv: list[str] | None = None
    ) -> subprocess.Popen:
        """Start manage.py ARGS of a side (or python ARGV) in the background, logging to NAME.log."""
        log = open(self.root / f"{name}.log", "a")  # noqa: SIM115 - the child keeps it
        script = MONOLITH_MANAGE if side == "monolith" else CATALOG_MANAGE
        command = [sys.executable, *argv] if argv else [sys.executable, script, *args]
        proc = subprocess.Popen(
            command, cwd=REPO, env=self.env(side), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.running[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.running.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def alive(self, name: str) -> None:
        proc = self.running[name]
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def queue(self, service: str) -> str:
        return f"{self.queue_prefix}seam.{service}"

    def delete_queues(self) -> None:
        """Remove this stack's queues from a shared broker (RabbitMQ, Redis)."""
        if self.broker_url.startswith("filesystem"):
            return
        from kombu import Connection

        with Connection(self.broker_url, connect_timeout=5) as conn:
            for service in ("catalog", "monolith"):
                with contextlib.suppress(
                    Exception
                ):  # a queue never declared is not there to delete
                    conn.channel().queue_delete(self.queue(service))

    def stop_all(self) -> None:
        for name in list(self.running):
            proc = self.running.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def serve_catalog(self) -> None:
        self.start(
            "catalog-server",
            "catalog",
            argv=["-m", "extracted.catalog", "--port", str(self.catalog_port)],
        )
        self.wait_http(f"{self.catalog_url}/healthz", "catalog-server")

    @property
    def monolith_url(self) -> str:
        return f"http://127.0.0.1:{self.monolith_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def serve_monolith(self) -> None:
        self.start("monolith-server", "monolith", argv=[
            "-m", "uvicorn", "legacy_monolith.config.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.monolith_port), "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
        ])  # fmt: skip
        self.wait_http(f"{self.monolith_url}/api/health", "monolith-server")

    def serve_proxy(self, routes: list[dict]) -> None:
        """The strangler proxy in front of both, with ROUTES added through its admin API."""
        var = self.root / "var"
        var.mkdir(parents=True, exist_ok=True)
        (var / "admin-token").write_text(TOKEN + "\n")
        config = self.root / "proxy.toml"
        config.write_text(f"""
[proxy]
listen = "127.0.0.1:{self.proxy_port}"
admin_listen = "127.0.0.1:{self.admin_port}"
store = "sqlite:///{var}/routes.db"
access_log = "{var}/access.jsonl"
debug_headers = true

[upstreams.monolith]
urls = ["{self.monolith_url}"]

[upstreams.catalog]
urls = ["{self.catalog_url}"]

[[tokens]]
name = "test"
secret_file = "{var}/admin-token"
scope = "admin"
""")
        figkit = str(Path(sys.executable).with_name("figkit"))
        log = open(self.root / "proxy.log", "a")  # noqa: SIM115 - the child keeps it
        self.running["proxy"] = subprocess.Popen([figkit, "proxy", "serve", "--config", str(config)], cwd=REPO,
                                                 env=self.env("monolith"), stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        self.wait_http(f"{self.admin_url}/api/routes", "proxy")
        for route in routes:
            response = httpx.post(
                f"{self.admin_url}/api/routes",
                json=route,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert response.status_code == 201, response.text

    def wait_http(self, url: str, name: str, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self.alive(name)
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{name} did not answer {url} within {deadline_s} s:\n{self.log(name)}")

    def sql(self, side: str, query: str) -> list[tuple]:
        """Read a side's PostgreSQL database directly: for the test's checks only."""
        import psycopg

        url = self.monolith_db if side == "monolith" else self.catalog_db
        assert url, "sql() reads PostgreSQL stacks"
        with psycopg.connect(url) as conn:
            return conn.execute(query).fetchall()
