"""A port base whose ports (BASE + each offset) are all free on 127.0.0.1, for a whole stack."""

from __future__ import annotations

import random
import socket

import pytest


def free_base(offsets: tuple[int, ...]) -> int:
    for _ in range(50):
        base = random.randrange(20000, 60000)
        ok = True
        for port in (base + offset for offset in offsets):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            return base
    pytest.fail("no free port base for the stack")
