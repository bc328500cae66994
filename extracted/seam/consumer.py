"""`manage.py consume`: this side's inbox queue read in the foreground, for tests and workshops.
In production the Celery worker runs the same `seam.apply_event` task (extracted/seam/tasks.py)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from kombu.exceptions import OperationalError

from extracted.seam import inbox, tracing, transport
from extracted.seam.settings import inbox_queue, service_name

log = logging.getLogger("extracted.seam.consumer")


def envelope_of_message(body) -> dict | None:
    """The event in a Celery task message (protocol 2: [args, kwargs, embed])."""
    if isinstance(body, (list, tuple)) and body and isinstance(body[0], (list, tuple)) and body[0]:
        return body[0][0] if isinstance(body[0][0], dict) else None
    return None


def _retry_at_the_tail(message, envelope: dict, queue_name: str) -> None:
    """Send a failed event to the back of the queue, as Celery's retry does, so the events behind
    it (often the very one it waits for) go first; requeue it in place if that send fails."""
    try:
        transport.send(
            envelope, queue_name, {k: v for k, v in message.headers.items() if k == "traceparent"}
        )
    except Exception:  # noqa: BLE001 - the broker is in trouble: keep the message where it is
        message.requeue()
        time.sleep(0.2)
        return
    message.ack()


BATCH = 100  # events applied in one transaction at most (and the prefetch that feeds it)
GATHER_S = 0.005  # how long to wait for one more message before applying what has come


def consume(*, once: bool = False, idle_timeout_s: float = 1.0, should_stop: Callable[[], bool] = lambda: False,
            queue_name: str | None = None, batch: int = BATCH) -> Counter:  # fmt: skip
    """Apply events from this side's inbox queue until stopped; with once, until it is empty.

    Messages that have come in are applied together, in one transaction (inbox.handle_batch):
    under load a batch fills up to BATCH and the per-event cost falls from about 4 ms of CPU to
    under 1 (bench/seam_bench.py, "Consumer"); when they trickle in, a batch holds one and
    nothing waits. A batch that cannot be applied as one is applied event by event, with the
    retries and dead letters of `inbox.handle`. Messages are acked only after their commit."""
    outcomes: Counter = Counter()
    app = transport.celery_app()
    queue = transport.queue(queue_name or inbox_queue(service_name()))
    pending: list[tuple[dict, Any]] = []

    def on_message(body, message) -> None:
        envelope = envelope_of_message(body)
        if envelope is None:
            outcomes[inbox.handle({"raw": repr(body)[:2000]})] += 1  # dead letter: not an event
            message.ack()
            return
        pending.append((envelope, message))

    def apply_pending() -> None:
        taken = pending[:]
        pending.clear()
        if len(taken) > 1:
            started = time.time_ns()
            try:
                results = inbox.handle_batch([envelope for envelope, _ in taken])
            except inbox.BatchNotApplied as exc:
                log.info("consume: a batch of %d goes one by one (%s)", len(taken), exc)
            else:
                tracing.consumer_spans_done(
                    [(message.headers, envelope) for envelope, message in taken], results,
                    queue.name, started,
                )  # fmt: skip
                for (_, message), outcome in zip(taken, results, strict=True):
                    outcomes[outcome] += 1
                    message.ack()
                return
        for envelope, message in taken:
            apply_one(envelope, message)

    def apply_one(envelope: dict, message) -> None:
        # In the message's trace, the retry's send too: the next try continues it.
        with tracing.consumer_span(message.headers, envelope, queue.name) as span:
            try:
                outcome = inbox.handle(envelope)
            except inbox.RetryLater:
                span.set_attribute("seam.outcome", "retried")
                outcomes["retried"] += 1
                _retry_at_the_tail(message, envelope, queue.name)
                return
            except Exception as exc:  # noqa: BLE001 - the database away, say: keep the event, wait
                span.set_attribute("seam.outcome", "requeued")
                log.warning(
                    "consume: could not record event %s (%s); it stays queued",
                    envelope.get("id"),
                    exc,
                )
                outcomes["requeued"] += 1
                message.requeue()
                time.sleep(1.0)
                return
            span.set_attribute("seam.outcome", outcome)
        outcomes[outcome] += 1
        message.ack()

    backoff = 0.2
    while not should_stop():
        try:
            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=3)
                with connection.Consumer(
                    queue, callbacks=[on_message], accept=["json"], prefetch_count=batch
                ):
                    backoff = 0.2
                    while not should_stop():
                        try:
                            connection.drain_events(timeout=GATHER_S if pending else idle_timeout_s)
                        except TimeoutError:
                            if pending:
                                apply_pending()
                            elif once:
                                return outcomes
                            continue
                        if len(pending) >= batch:
                            apply_pending()
                    if pending:
                        apply_pending()
        except (OperationalError, ConnectionError, OSError) as exc:
            # Unacked messages go back to the queue with the connection; none is applied twice
            # (the inbox), and none is lost.
            pending.clear()
            if once:
                raise
            log.warning("consume: broker unreachable (%s); retrying in %.1f s", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
    return outcomes
