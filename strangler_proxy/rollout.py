"""Which route table version each worker of this proxy serves, so a change can wait until it is live.

Each worker writes its version to `worker-<pid>.version` in the run directory that
`figkit proxy serve` creates (FIGKIT_RUN_DIR) whenever it loads a new table; the admin
API reads them back and skips workers that are gone. A change answers once every live
worker serves it, or says it is not live yet after a bounded wait.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

RUN_DIR_ENV = "FIGKIT_RUN_DIR"


def report(version: int, run_dir: str | None = None) -> None:
    """Called by a worker after it swapped in a table."""
    directory = run_dir or os.environ.get(RUN_DIR_ENV)
    if not directory:
        return
    path = Path(directory) / f"worker-{os.getpid()}.version"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(version))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def versions_in(run_dir: str | Path) -> list[int]:
    """The versions the live workers serve; files of dead workers are removed."""
    found = []
    for path in Path(run_dir).glob("worker-*.version"):
        pid = int(path.stem.removeprefix("worker-"))
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        try:
            found.append(int(path.read_text()))
        except (OSError, ValueError):
            continue  # being replaced right now; the next look finds it
    return found


def from_environment() -> Callable[[], list[int]] | None:
    directory = os.environ.get(RUN_DIR_ENV)
    return (lambda: versions_in(directory)) if directory else None


async def wait_until_live(
    applied: Callable[[], list[int]] | None, version: int, seconds: float = 3.0
) -> dict:
    """{"live": bool, "workers": n} once every worker serves `version`, or when time is up."""
    if applied is None:
        return {"live": None, "workers": 0}
    deadline = time.monotonic() + seconds
    while True:
        versions = applied()
        if versions and min(versions) >= version:
            return {"live": True, "workers": len(versions)}
        if time.monotonic() >= deadline:
            return {"live": False, "workers": len(versions)}
        await asyncio.sleep(0.02)
