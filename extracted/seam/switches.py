"""Live toggles: a value by name, in this side's database, that every process reads again within
SWITCH_TTL_S. `manage.py switch checkout saga` moves checkout to the saga while the shop runs;
a setting gives the value until a switch is set."""

from __future__ import annotations

import time

from django.db import DatabaseError
from django.utils import timezone

from extracted.seam.models import Switch

SWITCH_TTL_S = 1.0
_cache: dict[str, tuple[float, str | None]] = {}


def value(name: str, default: str) -> str:
    """The switch's value, or DEFAULT when it was never set (or the table is not there yet)."""
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is None or now - cached[0] > SWITCH_TTL_S:
        try:
            found = Switch.objects.filter(name=name).values_list("value", flat=True).first()
        except DatabaseError:  # not migrated yet: the setting holds
            found = None
        cached = (now, found)
        _cache[name] = cached
    return cached[1] if cached[1] is not None else default


def set_value(name: str, new: str, *, by: str = "") -> str | None:
    """Set a switch; the value it had before (None if never set)."""
    before = Switch.objects.filter(name=name).values_list("value", flat=True).first()
    Switch.objects.update_or_create(
        name=name, defaults={"value": new, "changed_at": timezone.now(), "changed_by": by}
    )
    _cache.pop(name, None)
    return before


def forget() -> None:
    """Drop what this process remembers of the switches (tests, after rolling back a set)."""
    _cache.clear()
