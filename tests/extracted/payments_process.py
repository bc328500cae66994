"""The payments service (extracted/payments) as a real process on loopback, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.extracted.stack import free_port

REPO = Path(__file__).resolve().parents[2]
MANAGE = str(REPO / "extracted" / "payments" / "manage.py")


@dataclass
class PaymentsProcess:
    var: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.var / f"payments-{self.port}.log"

    def start(self, deadline_s: float = 30) -> None:
        """Start it and wait until /healthz answers; fails with the end of its log if not."""
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "extracted.payments", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(int(deadline_s / 0.1)):
            if self.proc.poll() is not None:
                raise AssertionError(f"payments exited {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            threading.Event().wait(0.1)
        raise AssertionError(f"payments did not answer /healthz in {deadline_s} s: {self.log()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill() if kill else self.proc.terminate()
        self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, MANAGE, *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


def service_env(var: Path, **settings: str) -> dict[str, str]:
    """The environment of a payments process on its own SQLite file under `var`, unless
    `PAYMENTS_DATABASE_URL` is given; a monolith's database or settings are never inherited."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(FIGKIT_VAR_DIR=str(var), PYTHONUNBUFFERED="1", **settings)
    return env


@contextmanager
def payments_service(var: Path, **settings: str) -> Iterator[PaymentsProcess]:
    service = PaymentsProcess(var, service_env(var, **settings))
    service.start()
    try:
        yield service
    finally:
        service.stop()
