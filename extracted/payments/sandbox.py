"""The sandbox's test cards, as in real providers' test modes and the monolith's
`payments/gateway.py`; a test chooses what the issuer does by the card token it sends:

| card token          | what happens                                                        |
|---------------------|---------------------------------------------------------------------|
| `tok_decline…`      | declined by the issuer (`tok_declined` too, the monolith's)         |
| not `tok_…`         | declined: not a card token                                          |
| `tok_slow_<ms>`     | authorised after `<ms>` milliseconds (at most 10 s): a lost reply   |
| `tok_server_error`  | a 500 after the work, which is rolled back: a retry runs again      |
| any other `tok_…`   | authorised                                                          |
"""

from __future__ import annotations

import json
import time

SLOW = "tok_slow_"
SLOW_MAX_MS = 10_000
SERVER_ERROR = "tok_server_error"


class IssuerFailed(Exception):
    """The sandbox's `tok_server_error`: the service fails after doing the work."""


def decline_reason(token: str) -> str:
    """Why the issuer refuses the card, or "" when it authorises."""
    if not token.startswith("tok_"):
        return "invalid card token"
    if token.startswith("tok_decline"):
        return "card declined by issuer"
    return ""


def latency_ms(token: str) -> int:
    """How long the issuer takes to answer for this card: 0 but for `tok_slow_<ms>`."""
    if not token.startswith(SLOW):
        return 0
    ms = token.removeprefix(SLOW)
    return min(int(ms), SLOW_MAX_MS) if ms.isdigit() else 0


def wait_for_issuer(body: bytes) -> None:
    """Sleep for the card in an authorise body. The idempotency middleware calls it before it
    opens the transaction that does the work, so that a slow card holds no lock (on SQLite the
    write lock is the whole database's) while other requests run."""
    try:
        token = json.loads(body or b"{}").get("card_token")
    except (ValueError, AttributeError):
        return
    if isinstance(token, str) and (ms := latency_ms(token)):
        time.sleep(ms / 1000)


def fail_after_work(token: str) -> None:
    if token == SERVER_ERROR:
        raise IssuerFailed(f"the sandbox's {SERVER_ERROR} card fails after the work, on purpose")
