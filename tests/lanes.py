"""`make test`: the whole suite in two lanes that run side by side, so that it stays under 15 min.

- servers: the tests of the proxy, the services, the seam and the end-to-end stories, which
  start real servers and processes, on SQLite; its output is live. It is the longer lane.
- analysis: the analyzer's, the docs' and the notebooks' tests, which start no server and are
  bound by one core, then the shop's tests on SQLite and again on PostgreSQL (DATABASE_URL).
  Its output is kept in a file and printed whole once both lanes are done.

On a 2-core machine the servers lane leaves most of the second core idle while it waits on its
servers; the analysis lane uses it. Every command runs even when one before it failed, and the
exit code is 1 when any did. `make test-sqlite` and `make test-postgres` still run one leg alone.

Usage: python tests/lanes.py [PYTEST_ARGS...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/figkit")


@dataclass
class Run:
    name: str
    paths: list[str]
    env: dict[str, str] = field(default_factory=dict)
    code: int | None = None
    seconds: float = 0.0


def lanes() -> dict[str, list[Run]]:
    return {
        "servers": [
            Run("sqlite: proxy, services, seam, end to end",
                ["tests/strangler_proxy", "tests/extracted", "tests/e2e"]),
        ],
        "analysis": [
            Run("sqlite: analyzer, bench, docs, notebooks",
                ["tests/analyzer", "tests/bench", "tests/docs", "tests/notebooks",
                 "tests/test_service_gating.py", "tests/test_lanes.py"]),
            Run("sqlite: the shop", ["tests/legacy_monolith"]),
            Run("postgresql: the shop", ["tests/legacy_monolith"], {"DATABASE_URL": POSTGRES_URL}),
        ],
    }  # fmt: skip


def unassigned(here: Path = REPO / "tests") -> list[str]:
    """Test folders and files of tests/ that no SQLite run of a lane names: they would never run."""
    named = {path for runs in lanes().values() for run in runs if not run.env for path in run.paths}
    found = [
        f"tests/{entry.name}"
        for entry in sorted(here.iterdir())
        if (entry.is_dir() and any(entry.rglob("test_*.py")))
        or (entry.is_file() and entry.name.startswith("test_") and entry.suffix == ".py")
    ]
    return [path for path in found if path not in named]


def run_lane(name: str, runs: list[Run], extra: list[str], out, scratch: Path) -> None:
    for n, run in enumerate(runs):
        # A basetemp of its own: two pytest sessions never clean up each other's tmp_path.
        basetemp = scratch / f"{name}-{n}"
        cache = [] if name == "servers" else ["-p", "no:cacheprovider"]  # one writer of .pytest_cache
        command = [sys.executable, "-m", "pytest", *cache, *run.paths, f"--basetemp={basetemp}", *extra]
        print(f"\n[lanes] {name}: {run.name}: {' '.join(command[1:])}", file=out, flush=True)
        started = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env={**os.environ, **run.env},
                              stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        run.code, run.seconds = done.returncode, time.monotonic() - started


def main(argv: list[str]) -> int:
    plan = lanes()
    if missing := unassigned():
        print(f"tests/lanes.py: {', '.join(missing)} is in no lane; add it to one in lanes()")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="figkit-lanes-"))
    log = scratch / "analysis.log"
    started = time.monotonic()
    with open(log, "w") as analysis_out:
        side = threading.Thread(
            target=run_lane, args=("analysis", plan["analysis"], argv, analysis_out, scratch)
        )
        side.start()
        try:
            run_lane("servers", plan["servers"], argv, sys.stdout, scratch)
            side.join()
        except KeyboardInterrupt:  # Ctrl-C reached every pytest of the process group too
            side.join(timeout=30)
            return 130
    print(f"\n[lanes] the analysis lane's output ({log}):", flush=True)
    sys.stdout.write(log.read_text())
    print(f"\n[lanes] make test in {time.monotonic() - started:.0f} s:")
    failed = False
    for lane, runs in plan.items():
        for run in runs:
            ok = run.code in (0, 5)  # 5: nothing collected, e.g. -k matched none of this run
            failed |= not ok
            print(f"[lanes]   {lane:9} {run.name:52} {run.seconds:6.0f} s  "
                  f"{'passed' if ok else f'FAILED (exit {run.code})'}")  # fmt: skip
    if not failed:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
