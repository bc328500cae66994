"""Stopping a stack's processes all at once, for the fixtures of the seam's end-to-end tests.

`Stack.stop_all` stops them one after the other, and each may take a second to see its SIGTERM
(a consumer waits up to a second for the broker, a server finishes its connections): the flip
tests' seven processes took 2.5 to 3.7 s of each teardown. Sent to all first and then waited
for, the signals cost the slowest process's time, not the sum: about 1 s there.
"""

from __future__ import annotations

import subprocess
import time

from tests.extracted.stack import Stack


def stop_together(stack: Stack, timeout_s: float = 10) -> None:
    """SIGTERM to every process of STACK, then wait for them (SIGKILL after TIMEOUT_S)."""
    running = list(stack.running.values())
    stack.running.clear()
    for proc in running:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in running:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
