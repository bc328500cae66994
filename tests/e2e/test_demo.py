"""`make demo`'s story against the real processes, once on the embedded defaults (SQLite files,
kombu's filesystem broker) and once on PostgreSQL + RabbitMQ: every phase serves traffic with zero
client errors, and reconcile finds zero differences at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from extracted.seam.serving import port_free
from legacy_monolith.workshop.stack import OFFSETS
from tests import services
from tests.e2e import ports

REPO = Path(__file__).resolve().parents[2]
FIGKIT = str(Path(sys.executable).with_name("figkit"))
PHASES = ["analyse", "start", "baseline", "backfill", "shadow", "canary", "flip", "saga", "chaos",
          "reconcile", "stop"]  # fmt: skip
TRAFFIC = PHASES[2:-1]


def demo(var: Path, *extra: str, base: int | None = None) -> tuple[subprocess.CompletedProcess, int]:
    base = base or ports.free_base(tuple(OFFSETS.values()))
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "FIGKIT_VAR_DIR"}}  # fmt: skip
    done = subprocess.run(
        [FIGKIT, "workshop", "demo", "--fast", "--var", str(var), "--port-base", str(base), *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return done, base


def check_story(var: Path, done: subprocess.CompletedProcess, base: int) -> list[dict]:
    assert done.returncode == 0, f"make demo exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    out = var / "demo"
    phases = json.loads((out / "summary.json").read_text())
    assert [p["phase"] for p in phases] == PHASES
    for p in phases:
        assert {"phase", "requests", "errors", "mismatches", "p50_ms", "p99_ms"} <= set(p)
    by = {p["phase"]: p for p in phases}
    assert sum(p["errors"] for p in phases) == 0, [p["error_samples"] for p in phases]
    for name in TRAFFIC:
        assert by[name]["requests"] > 0 and by[name]["p99_ms"] >= by[name]["p50_ms"] > 0, by[name]
    assert by["baseline"]["on_service"] == 0, "before the routes move, the monolith answers all"
    assert by["canary"]["on_service"] > 0 and by["saga"]["on_service"] > 0
    assert by["saga"]["checkouts"] > 0 and "checkouts completed as sagas" in by["saga"]["note"]
    assert not by["saga"]["note"].startswith("0 ")
    assert "breaker opened" in by["chaos"]["note"] and by["chaos"]["fallbacks"] > 0
    assert by["reconcile"]["note"] == "0 differences" and by["backfill"]["note"].endswith(": 0 differences")
    assert "catalog is now owned by catalog" in by["flip"]["note"]
    report = out / "report" / "report.html"
    assert report.stat().st_size > 10_000
    assert (out / "phases.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| saga |" in (out / "summary.md").read_text()
    assert "Client errors across all phases: 0." in (out / "summary.md").read_text()
    stopped = [port for port in (base + o for o in OFFSETS.values()) if not port_free("127.0.0.1", port)]
    assert stopped == [], f"still listening after the demo: {stopped}"
    return phases


@pytest.mark.timeout(600)
def test_the_demo_tells_the_whole_story_on_the_embedded_defaults(tmp_path):
    done, base = demo(tmp_path)
    check_story(tmp_path, done, base)
    assert (tmp_path / "demo" / "stack-data" / "legacy_monolith.sqlite3").exists()


@pytest.mark.timeout(600)
def test_the_demo_tells_the_whole_story_on_postgresql_and_rabbitmq(tmp_path):
    postgres = urlsplit(services.require(services.POSTGRES))
    broker = services.require(services.RABBITMQ)
    server = f"{postgres.scheme}://{postgres.netloc}"
    done, base = demo(tmp_path, "--postgres", server, "--broker", broker)
    check_story(tmp_path, done, base)
    assert not (tmp_path / "demo" / "stack-data" / "legacy_monolith.sqlite3").exists()


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    import socket

    base = ports.free_base(tuple(OFFSETS.values()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + OFFSETS["catalog"]))
        taken.listen()
        done, _ = demo(tmp_path, base=base)
    assert done.returncode == 2
    assert f"catalog :{base + OFFSETS['catalog']}" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
