"""Idempotency keys on every write, with the semantics users know from Stripe's API. This module
holds the rules as plain values; `keystore.py` keeps the keys in the database and `middleware.py`
applies the rules to each POST.

| a POST with key K                                       | answer                                      |
|---------------------------------------------------------|---------------------------------------------|
| no Idempotency-Key header                               | 400: every write needs one                  |
| K new                                                   | the request runs; its answer is kept        |
| K seen, same method, path and body, answered            | the kept answer again (Idempotent-Replayed) |
| K seen with another method, path or body                | 422: a key is for one request               |
| K seen, its first request still running (lease holds)   | 409 in_flight: retry in a moment            |
| K seen, its first request died (its lease ran out)      | this request takes K over and runs          |
| K's first request answered 5xx, or its input was bad    | nothing kept: a retry runs again            |

Which answers are kept follows Stripe: an answer is kept once the endpoint has started on the
request, whatever it said (201, the 402 of a declined card, the 409 of an illegal move). A request
the endpoint never started (its body did not parse or validate) keeps nothing, so the caller can
fix the body and send it again under the same key; nor does a 5xx, which may be a passing fault.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class Verdict(Enum):
    RUN = "run"  # K is new: take it and run
    TAKE_OVER = "take_over"  # K's first request died: take it from it and run
    REPLAY = "replay"  # answer what was answered
    REUSED = "reused"  # 422
    IN_FLIGHT = "in_flight"  # 409


@dataclass(frozen=True)
class Held:
    """What the key store holds for a key."""

    fingerprint: str
    answered: bool
    lease_until: datetime


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was used for: method, path and body, the body's JSON made canonical
    (key order and spacing do not count)."""
    try:
        canonical = json.dumps(json.loads(body or b"{}"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("latin-1")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def decide(held: Held | None, mark: str, now: datetime) -> Verdict:
    if held is None:
        return Verdict.RUN
    if held.fingerprint != mark:
        return Verdict.REUSED
    if held.answered:
        return Verdict.REPLAY
    if held.lease_until > now:
        return Verdict.IN_FLIGHT
    return Verdict.TAKE_OVER


def keeps(status: int, started: bool) -> bool:
    """Whether an answer is kept for its key's retries (see the table above)."""
    return started and status < 500


def key_problem(key: str) -> str:
    """Why a header value is no key ("" when it is one)."""
    if not key:
        return (
            f"every write needs an {HEADER} header: a unique string per operation, "
            "sent again unchanged on its retries"
        )
    if len(key) > MAX_KEY_LENGTH:
        return f"an {HEADER} is at most {MAX_KEY_LENGTH} characters; this one has {len(key)}"
    return ""
