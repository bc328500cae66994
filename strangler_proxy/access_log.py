"""The JSON-lines access log: one object per request, appended in whole lines.

Lines are buffered and written with one O_APPEND write each flush, so several workers
can share a file without tearing each other's lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from json.encoder import encode_basestring_ascii as _s
from pathlib import Path

from strangler_proxy.errors import ConfigError


class AccessLog:
    def __init__(self, path: Path | str, flush_every: float = 0.5, max_buffer: int = 512) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot open the access log {self.path}: {exc.strerror}") from None
        self._buffer: list[str] = []
        self._flush_every = flush_every
        self._max_buffer = max_buffer
        self._task: asyncio.Task | None = None

    def request(
        self, request_id: str, method: str, path: str, route: str, target: str, status: int,
        seconds: float, client: str | None, table_version: int, traceparent: bytes | None = None,
    ) -> None:  # fmt: skip
        """One request's line; the same JSON as write(), built without json.dumps (5x cheaper).

        `traceparent` is the one sent upstream: its trace id, and its span id as the proxy's own
        span, the parent of the upstream's server span (docs/tracing.md)."""
        if traceparent is not None and len(traceparent) == 55:  # 00-<32 hex>-<16 hex>-<2 hex>
            trace = f'"trace_id":"{traceparent[3:35].decode()}","span_id":"{traceparent[36:52].decode()}"'
        else:
            trace = '"trace_id":null,"span_id":null'
        self._buffer.append(
            f'{{"ts":{time.time():.3f},"request_id":{_s(request_id)},{trace},"method":{_s(method)},'
            f'"path":{_s(path)},"route":{_s(route)},"target":{_s(target)},"status":{status},'
            f'"duration_ms":{seconds * 1000:.3f},"client":{"null" if client is None else _s(client)},'
            f'"table_version":{table_version}}}'
        )
        if len(self._buffer) >= self._max_buffer:
            self.flush()

    def write(self, record: dict) -> None:
        self._buffer.append(json.dumps(record, separators=(",", ":")))
        if len(self._buffer) >= self._max_buffer:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            data = ("\n".join(self._buffer) + "\n").encode()
            self._buffer.clear()
            os.write(self._fd, data)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.flush()
        os.close(self._fd)
