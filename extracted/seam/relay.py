"""The relay: sends the outbox to the broker, in order per aggregate, and marks an event sent only
after the broker has confirmed it.

On PostgreSQL a relay claims a batch with `SELECT ... FOR UPDATE SKIP LOCKED`, so several relays
share the outbox; of each aggregate it sends only the events that have no older unsent event
claimed elsewhere, so per-aggregate order holds across relays. On SQLite one relay runs at a time
(a lock file beside the database). A broker that goes away makes the relay wait and retry with
backoff; nothing is marked sent that the broker did not take.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from extracted.seam import outbox, tracing, transport
from extracted.seam import settings as seam_settings
from extracted.seam.models import OutboxEvent

log = logging.getLogger("extracted.seam.relay")

BACKOFF_MAX_S = 5.0


class BrokerUnavailable(Exception):
    pass


@dataclass
class RelayStats:
    sent: int = 0
    batches: int = 0
    broker_errors: int = 0
    last_error: str = ""
    by_destination: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def envelope_of(event: OutboxEvent) -> dict:
    return {
        "id": str(event.event_id),
        "type": event.event_type,
        "schema_version": event.schema_version,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "version": event.version,
        "kind": event.kind,
        "payload": event.payload,
        "source": seam_settings.service_name(),
        "occurred_at": event.created_at.isoformat(),
        "traceparent": event.traceparent,
        "snapshot": event.snapshot,
    }


class Relay:
    def __init__(self, *, batch: int | None = None, using: str = "default",
                 send: Callable[[dict, str, dict], None] | None = None) -> None:  # fmt: skip
        """`send`, if given, sends one event and returns once the broker has it; by default
        events go out in waves through a transport.Publisher (see _send_all)."""
        self.batch = batch or seam_settings.relay_batch()
        self.using = using
        self.send = send
        self._publisher: transport.Publisher | None = None
        self.stats = RelayStats()

    @property
    def vendor(self) -> str:
        return connections[self.using].vendor

    def run_once(self) -> int:
        """Send one batch; returns how many events went out. Raises BrokerUnavailable after
        marking what did go out."""
        if self.vendor == "postgresql":
            return self._run_once_postgresql()
        return self._run_once_single()

    def run(
        self,
        *,
        once: bool = False,
        idle_s: float = 0.2,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RelayStats:
        """Relay until stopped; with once, until the outbox is empty (or the broker is down)."""
        backoff = 0.2
        waker = Waker(self.using)
        with self._exclusive():
            try:
                while not should_stop():
                    try:
                        sent = self.run_once()
                        backoff = 0.2
                    except BrokerUnavailable as exc:
                        self.stats.broker_errors += 1
                        self.stats.last_error = str(exc)
                        log.warning("relay: %s; retrying in %.1f s", exc, backoff)
                        if once:
                            raise
                        transport.reset_connections()
                        time.sleep(backoff)
                        backoff = min(backoff * 2, BACKOFF_MAX_S)
                        continue
                    if sent == 0:
                        if once:
                            break
                        waker.wait(idle_s)
            finally:
                waker.close()
                if self._publisher is not None:
                    self._publisher.close()
        return self.stats

    # -- PostgreSQL: several relays -------------------------------------------------------------

    def _run_once_postgresql(self) -> int:
        error: Exception | None = None
        sent: list[int] = []
        with transaction.atomic(using=self.using):
            claimed = list(
                OutboxEvent.objects.using(self.using)
                .filter(sent_at__isnull=True)
                .order_by("seq")
                .select_for_update(skip_locked=True)[: self.batch]
            )
            batch = self._in_order(claimed)
            error = self._send_all(batch, sent)
            self._mark_sent(sent)
        return self._finish(sent, error)

    def _in_order(self, claimed: list[OutboxEvent]) -> list[OutboxEvent]:
        """Of each aggregate, the claimed events up to the first unsent one this relay did not
        claim (another relay holds it): sending past it would reorder the aggregate."""
        if not claimed:
            return []
        mine = {e.seq for e in claimed}
        keys = {(e.aggregate_type, e.aggregate_id) for e in claimed}
        top = max(mine)
        first_gap: dict[tuple[str, str], int] = {}
        rows = (
            OutboxEvent.objects.using(self.using)
            .filter(sent_at__isnull=True, seq__lte=top, aggregate_id__in={k[1] for k in keys})
            .order_by("seq")
            .values_list("seq", "aggregate_type", "aggregate_id")
        )
        for seq, aggregate_type, aggregate_id in rows:
            key = (aggregate_type, aggregate_id)
            if key in keys and seq not in mine and key not in first_gap:
                first_gap[key] = seq
        return [
            e for e in claimed if e.seq < first_gap.get((e.aggregate_type, e.aggregate_id), top + 1)
        ]

    # -- SQLite (and others): one relay ---------------------------------------------------------

    def _run_once_single(self) -> int:
        batch = list(
            OutboxEvent.objects.using(self.using)
            .filter(sent_at__isnull=True)
            .order_by("seq")[: self.batch]
        )
        sent: list[int] = []
        error = self._send_all(batch, sent)
        with transaction.atomic(using=self.using):
            self._mark_sent(sent)
        return self._finish(sent, error)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self.vendor == "postgresql":
            yield
            return
        name = connections[self.using].settings_dict["NAME"]
        path = Path(f"{name}.relay.lock") if name and name != ":memory:" else None
        if path is None:
            yield
            return
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning(
                    "relay: another relay runs on %s (pid in %s); waiting for it", name, path
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield

    # -- both -----------------------------------------------------------------------------------

    def _send_all(self, batch: list[OutboxEvent], sent: list[int]) -> Exception | None:
        """Send the batch, appending to `sent` what the broker holds; stop at the first failure.

        By waves: the first event of each aggregate in the batch, then the second, and so on.
        A wave's events are published together and their confirms awaited together, and a wave
        goes out only once the one before it is confirmed whole, so an event is never published
        before the older events of its aggregate are confirmed: the order per aggregate that
        sending one at a time gives, at one round trip per wave. One relay went from 405 to
        1,054 events/s with traces on, 546 to 2,300 without (bench/RESULTS.md, "Data seam").
        """
        if self.send is not None:
            return self._send_one_by_one(batch, sent)
        if self._publisher is None:
            self._publisher = transport.Publisher()
        for wave in _waves(batch):
            error = self._send_wave(self._publisher, wave, sent)
            if error is not None:
                self._publisher.close()  # the next attempt starts on a fresh connection
                return error
        return None

    def _send_wave(self, publisher: transport.Publisher, wave: list[OutboxEvent], sent: list[int]) -> Exception | None:  # fmt: skip
        error: Exception | None = None
        published: list[OutboxEvent] = []
        for event in wave:
            try:
                with tracing.relay_span(event):
                    publisher.publish(envelope_of(event), event.destination, tracing.headers_for(event))  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - any broker failure: stop, keep order
                error = exc
                break
            published.append(event)
        try:
            publisher.confirm()
            confirmed = published
        except transport.NotConfirmed as exc:
            confirmed, error = [published[i] for i in exc.confirmed], error or exc
        except Exception as exc:  # noqa: BLE001 - the connection went away while waiting
            confirmed, error = [], error or exc
        for event in confirmed:  # one event per aggregate: marking any of them keeps order
            sent.append(event.seq)
            self.stats.by_destination[event.destination] += 1
        return error

    def _send_one_by_one(self, batch: list[OutboxEvent], sent: list[int]) -> Exception | None:
        assert self.send is not None
        for event in batch:
            envelope = envelope_of(event)
            try:
                with tracing.relay_span(event):
                    self.send(envelope, event.destination, tracing.headers_for(event))
            except Exception as exc:  # noqa: BLE001 - any broker failure: stop, keep order
                return exc
            sent.append(event.seq)
            self.stats.by_destination[event.destination] += 1
        return None

    def _mark_sent(self, sent: list[int]) -> None:
        if sent:
            OutboxEvent.objects.using(self.using).filter(seq__in=sent).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1
            )

    def _finish(self, sent: list[int], error: Exception | None) -> int:
        self.stats.sent += len(sent)
        self.stats.batches += 1
        if error is not None:
            raise BrokerUnavailable(
                f"the broker refused or lost an event ({type(error).__name__}: {error})"
            ) from error
        return len(sent)


def _waves(batch: list[OutboxEvent]) -> list[list[OutboxEvent]]:
    """The batch (in seq order) split so that wave n holds the n-th event of each aggregate."""
    waves: list[list[OutboxEvent]] = []
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for event in batch:
        key = (event.aggregate_type, event.aggregate_id)
        if seen[key] == len(waves):
            waves.append([])
        waves[seen[key]].append(event)
        seen[key] += 1
    return waves


def backlog(using: str = "default") -> int:
    return OutboxEvent.objects.using(using).filter(sent_at__isnull=True).count()


class Waker:
    """How an idle relay waits for new events. On PostgreSQL it LISTENs on the channel that
    outbox writes NOTIFY at commit, so it wakes as soon as there is something to send (the lag's
    relay part went from 0.1 s at p50 to a few ms, bench/RESULTS.md "Data seam"); elsewhere, and
    whenever the listening connection is in trouble, it just sleeps for the idle time (a
    missed notification costs at most that)."""

    def __init__(self, using: str = "default", *, params: dict[str, Any] | None = None) -> None:
        """PARAMS (psycopg.connect's) for a database other than Django's USING one."""
        self.using = using
        self.params = params
        self._conn: Any = None
        self._broken_until = 0.0

    def wait(self, timeout_s: float) -> None:
        conn = self._listening()
        if conn is None:
            time.sleep(timeout_s)
            return
        try:
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                break
        except Exception as exc:  # noqa: BLE001 - a lost connection: poll, and listen again later
            log.warning("relay: stopped listening for new events (%s); polling", exc)
            self.close()
            self._broken_until = time.monotonic() + 5.0
            time.sleep(timeout_s)

    def _listening(self) -> Any:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._broken_until:
            return None
        if self.params is None and connections[self.using].vendor != "postgresql":
            return None
        try:
            import psycopg

            params = self.params
            if params is None:
                params = connections[self.using].get_connection_params()
                for django_only in ("cursor_factory", "context", "prepare_threshold"):
                    params.pop(django_only, None)
            conn = psycopg.connect(**params, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {outbox.NOTIFY_CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - polling still works
            log.warning("relay: cannot listen for new events (%s); polling", exc)
            self._broken_until = time.monotonic() + 5.0
            return None
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
