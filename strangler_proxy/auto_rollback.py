"""Automatic rollback: a route whose service fails too often goes back to the monolith by itself.

Each worker watches, per route in canary or service mode, what happened to the requests
sent to the route's service over a sliding window (`[proxy.rollback]`). When enough of
them failed, that worker rolls the route back in the shared store, as one audited change
(`auto-rollback`, by `figkit`, with the figures as the reason); every worker then serves
the new table within `poll_interval`. A failure is no answer from the service (refused,
timed out, broken, breaker open) or a 5xx it answered.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from strangler_proxy.config import RollbackConfig


class Watch:
    """Outcomes of one route's requests to its service, in one-second buckets over a window."""

    def __init__(self, config: RollbackConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.buckets: deque[list] = deque()  # [second, requests, failures]
        self.current: list = [-1, 0, 0]  # the newest bucket
        self.tripped = False
        # Outcomes since the worker last added them to the store (for promote's gates).
        self.requests = 0
        self.failures = 0

    def take(self) -> tuple[int, int]:
        """(requests, failures) since the last call."""
        taken = (self.requests, self.failures)
        self.requests = self.failures = 0
        return taken

    def record(self, failed: bool) -> str | None:
        """Count one outcome; the reason to roll back, once, when the window says so."""
        now = self.clock()
        second = int(now)
        self.requests += 1
        bucket = self.current
        if bucket[0] == second:  # the common case: one more in this second
            bucket[1] += 1
            if not failed:
                return None
            bucket[2] += 1
        else:
            self.current = [second, 1, int(failed)]
            self.buckets.append(self.current)
            horizon = now - self.config.window_seconds
            while self.buckets[0][0] < horizon:
                self.buckets.popleft()
            if not failed:
                return None
        self.failures += 1
        if self.tripped or not self.config.error_rate:
            return None
        buckets = self.buckets
        total = sum(b[1] for b in buckets)
        failures = sum(b[2] for b in buckets)
        if total >= self.config.min_requests and failures / total > self.config.error_rate:
            self.tripped = True
            return (
                f"automatic rollback: {failures} of the last {total} requests to the service "
                f"failed in {self.config.window_seconds:g} s ({failures / total:.0%} > "
                f"{self.config.error_rate:.0%}, [proxy.rollback])"
            )
        return None
