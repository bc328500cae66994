"""Guards of an upstream, per worker: the circuit breaker (closed, open, half-open) and the retry budget.

Pure state and a clock passed in, so every transition is tested without sockets. The
data path asks `allow()` before it sends to the upstream and reports each outcome with
`record(ok)`. What counts as a failure is the data path's call: no connection, a timeout,
a broken response, or a 502/503/504 from the upstream itself (a 500 is one endpoint's
bug, not an upstream that is down, and never opens the breaker).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from strangler_proxy.config import BreakerConfig, RetryConfig

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Breaker:
    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = config.failures
        self.open_seconds = config.open_seconds
        self.probes = config.half_open_requests
        self.clock = clock
        self.state = CLOSED
        self.failures = 0  # in a row
        self.opened_at = 0.0
        self.in_trial = 0  # half-open requests let through and not yet reported
        self.opened = 0  # times it opened (for stats)

    def allow(self) -> bool:
        """May a request go to the upstream now? In half-open, counts it as a trial."""
        if self.state == CLOSED or self.limit == 0:
            return True
        if self.state == OPEN:
            if self.clock() - self.opened_at < self.open_seconds:
                return False
            self.state, self.in_trial = HALF_OPEN, 0
        if self.in_trial < self.probes:
            self.in_trial += 1
            return True
        return False

    def record(self, ok: bool) -> None:
        if self.limit == 0:
            return
        if ok:
            self.failures = 0
            if self.state == HALF_OPEN:
                self.in_trial -= 1
                if self.in_trial <= 0:
                    self.state = CLOSED
            return
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.limit:
            self._open()

    def abandon(self) -> None:
        """A request let through ended with no verdict (the client left): free its trial."""
        if self.state == HALF_OPEN and self.in_trial > 0:
            self.in_trial -= 1

    def seconds_left(self) -> float:
        return max(0.0, self.open_seconds - (self.clock() - self.opened_at))

    def _open(self) -> None:
        self.state = OPEN
        self.opened_at = self.clock()
        self.in_trial = 0
        self.opened += 1


class RetryBudget:
    """Retries may add at most `budget` of the requests, plus `min_per_second` (Finagle's design).

    Each request deposits `budget` of a token, and time deposits `min_per_second` tokens a
    second; a retry takes a whole token. The balance is capped at a few seconds' worth, so a
    quiet hour does not save up a retry storm.
    """

    def __init__(self, config: RetryConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = config.budget
        self.per_second = config.min_per_second
        self.clock = clock
        self.cap = max(1.0, self.per_second * 10)
        self.tokens = self.per_second  # a second's worth to start with
        self.last = clock()
        self.retries = 0  # granted, for stats
        self.refused = 0  # asked for but over budget

    def request(self) -> None:
        """Count one request (not a retry) towards the budget."""
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def try_retry(self) -> bool:
        now = self.clock()
        self.tokens = min(self.cap, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.retries += 1
            return True
        self.refused += 1
        return False
