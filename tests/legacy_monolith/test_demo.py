"""`make shop` end to end: a fresh var dir, migrate, seed, serve, answer HTTP; and a clear error when the port is taken."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]

# `make shop` runs on its own SQLite files whatever DATABASE_URL says (demo_env), so the
# PostgreSQL leg would only run the same thing twice.
pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="make shop runs on SQLite files of its own; the SQLite leg runs it",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env["FIGKIT_VAR_DIR"] = str(var_dir)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def wait_for(url: str, proc: subprocess.Popen, deadline_s: float = 120) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, _ = proc.communicate()
            pytest.fail(f"demo exited early with {proc.returncode}:\n{out}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    pytest.fail(f"demo did not answer on {url} within {deadline_s} s")


def test_demo_migrates_seeds_and_serves_the_shop_on_sqlite(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "legacy_monolith.demo", "--port", str(port)],
        cwd=REPO,
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        home = wait_for(f"http://127.0.0.1:{port}/", proc)
        assert home.status_code == 200
        assert "text/html" in home.headers["content-type"]
        products = httpx.get(f"http://127.0.0.1:{port}/api/products/", timeout=5)
        assert products.status_code == 200
        assert products.json(), "the seeded shop has products"
        admin_css = httpx.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=5)
        assert admin_css.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out, "the demo prints where it runs"
    assert (tmp_path / "legacy_monolith.sqlite3").exists()
    # The worker is proven, not assumed: a task went through the broker and ran.
    assert re.search(
        r"worker: +celery, broker filesystem:// \(pid \d+; a task ran through it", out
    ), out


def test_demo_stops_when_its_worker_dies(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "legacy_monolith.demo", "--port", str(port)],
        cwd=REPO,
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        worker_pid = None
        while worker_pid is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail("demo exited early:\n" + "".join(lines))
            lines.append(line)
            found = re.search(r"worker: .*\(pid (\d+);", line)
            worker_pid = int(found.group(1)) if found else None
        assert worker_pid is not None, "".join(lines)
        os.kill(worker_pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "the Celery worker stopped" in out


def test_demo_refuses_a_busy_port_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "legacy_monolith.demo", "--port", str(port)],
            cwd=REPO,
            env=demo_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "legacy_monolith.sqlite3").exists(), (
        "nothing is written before the port check"
    )
