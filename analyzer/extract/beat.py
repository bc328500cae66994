"""Celery beat schedules: a dict entry with a ``"schedule"`` and a ``"task": "name"`` runs that
task by name, wherever the dict sits (``CELERY_BEAT_SCHEDULE`` in settings,
``app.conf.beat_schedule = ...``, ``app.conf.update(beat_schedule=...)``).

Each entry is recorded as a call of ``send_task("name")`` from the module that schedules it,
so the linker makes it a ``task`` edge the way it does for a task sent by name.
"""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import Context, string_value
from analyzer.facts import Call

BEAT_SEND = "m:celery.beat.send_task"  # the target a scheduled entry is recorded as calling


class BeatSchedule:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def visit_Dict(self, node: cst.Dict) -> None:
        entries: dict[str, cst.BaseExpression] = {}
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = string_value(element.key)
                if key is not None:
                    entries[key] = element.value
        if "schedule" not in entries or "task" not in entries:
            return
        task = string_value(entries["task"])
        if task:
            ctx = self.ctx
            ctx.facts.calls.append(Call(BEAT_SEND, ctx.line, ctx.function, args=(task,)))
