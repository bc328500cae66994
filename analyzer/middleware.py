"""A Django middleware that records which route touched which tables: runtime coupling evidence.

Install it in any monolith with one line, and say where the log goes:

    MIDDLEWARE += ["analyzer.middleware.CouplingRecorder"]
    FIGKIT_RUNTIME_LOG = "var/figkit-runtime.jsonl"     # default: figkit-runtime.jsonl
    FIGKIT_RUNTIME_SAMPLE = 1.0                         # share of requests recorded

Each request appends one JSON line: {"route", "view", "method", "status", "tables": {table: "r"|"w"}}.
`figkit analyze PATH --runtime LOG` turns the lines into `runtime` edges. The recorder never
fails a request: anything that goes wrong while recording is dropped.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
from contextlib import ExitStack

_TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+[`"\[]?([A-Za-z_][\w$]*)[`"\]]?', re.IGNORECASE)
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_lock = threading.Lock()


def tables_of(sql: str) -> dict[str, str]:
    """Tables named by one statement: "w" for the target of a write, "r" for the rest."""
    found = _TABLE.findall(sql)
    if not found:
        return {}
    if _WRITE.match(sql):
        return {found[0]: "w", **{t: "r" for t in found[1:] if t != found[0]}}
    return dict.fromkeys(found, "r")


class CouplingRecorder:
    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.path = getattr(settings, "FIGKIT_RUNTIME_LOG", "figkit-runtime.jsonl")
        self.sample = float(getattr(settings, "FIGKIT_RUNTIME_SAMPLE", 1.0))

    def __call__(self, request):
        if self.sample < 1.0 and random.random() >= self.sample:
            return self.get_response(request)
        from django.db import connections

        touched: dict[str, str] = {}

        def wrapper(execute, sql, params, many, context):
            try:
                for table, mode in tables_of(sql).items():
                    if touched.get(table) != "w":
                        touched[table] = mode
            except Exception:  # noqa: BLE001 - recording must never break the request
                pass
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(wrapper))
            response = self.get_response(request)
        self._write(request, response, touched)
        return response

    def _write(self, request, response, touched: dict[str, str]) -> None:
        try:
            match = getattr(request, "resolver_match", None)
            line = json.dumps(
                {
                    "route": getattr(match, "route", None),
                    "view": getattr(match, "_func_path", None),
                    "method": request.method,
                    "status": getattr(response, "status_code", None),
                    "tables": touched,
                },
                separators=(",", ":"),
            )
            with _lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
        except Exception:  # noqa: BLE001, S110 - recording must never break the request
            pass
