"""The Celery task every side's worker runs for the events in its inbox queue (seam.<SERVICE>)."""

from __future__ import annotations

from celery import shared_task

from extracted.seam import inbox


@shared_task(
    name="seam.apply_event", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None
)
def apply_event(self, envelope: dict) -> str:
    """Any failure is retried, never dropped: with acks_late a task that raises is still
    acknowledged, so an error that escaped here (the database away, say) would lose the event."""
    try:
        return inbox.handle(envelope)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise self.retry(countdown=min(2**self.request.retries, 30), exc=exc) from None


@shared_task(name="seam.resume_sagas", ignore_result=True)
def resume_sagas() -> int:
    """Celery beat runs it every few seconds: the sagas whose driver died, or whose retry is due,
    are driven on. A saga another driver holds is left alone (its lease)."""
    from extracted.seam import saga

    return len(saga.resume_due(budget_s=20.0))
