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
        self.tripped = False

    def record(self, failed: bool) -> str | None:
        """Count one outcome; the reason to roll back, once, when the window says so."""
        now = self.clock()
        second = int(now)
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:  # the common case: one more in this second
            bucket = buckets[-1]
            bucket[1] += 1
            if not failed:
                return None
            bucket[2] += 1
        else:
            buckets.append([second, 1, int(failed)])
            horizon = now - self.config.window_seconds
            while buckets[0][0] < horizon:
                buckets.popleft()
            if not failed:
                return None
        if self.tripped or not self.config.error_rate:
            return None
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
