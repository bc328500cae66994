"""An orchestrated saga: steps that each have a compensation, driven from state persisted in this
side's database, so that a killed driver's saga is taken over and driven to an end.

    CHECKOUT = Saga("checkout", [
        Step("create_order", create_order, compensation=cancel_order),
        Step("authorise", authorise, compensation=void, local=False, timeout_s=10),
        ...
    ])
    run = saga.start(CHECKOUT, {"cart_id": 7})
    run = saga.drive(run.id, budget_s=5)

How a step runs:
- a *local* step's action runs in one transaction with the saga's record that it is done, so it
  is done exactly once or not at all;
- a *remote* step (local=False) is recorded as started, then called, then recorded done. After a
  crash between the call and the record, it is called again: a remote step must be idempotent
  (an idempotency key from `ctx.key(step)`), and its compensation must undo whatever the call may
  have done even when its reply never arrived.

An action that raises `StepFailed` (a refusal: card declined, out of stock) is not retried; any
other exception (a timeout, a 503) is retried with backoff until the step's `timeout_s` has
passed since its first attempt. Then the saga compensates: each step already done, and the failed
one, is undone in reverse order, with `ctx` holding what their actions returned. A compensation
is retried until it succeeds; after COMPENSATION_ATTEMPTS it is left `stuck`, for an operator
(`manage.py saga show ID`, then `saga retry ID`).

A driver holds a lease on the saga (LEASE_S, renewed at each step); `resume_due()` takes over
the sagas whose lease ran out (a driver killed) or whose retry is due.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from extracted.seam.events import SeamError
from extracted.seam.models import SagaRun, SagaStepLog

log = logging.getLogger("extracted.seam.saga")

RUNNING, COMPENSATING = "running", "compensating"
COMPLETED, COMPENSATED, STUCK = "completed", "compensated", "stuck"
ACTIVE = (RUNNING, COMPENSATING)
FINISHED = (COMPLETED, COMPENSATED)

LEASE_S = float(os.environ.get("SEAM_SAGA_LEASE_S", "15"))
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
COMPENSATION_ATTEMPTS = 8


class StepFailed(Exception):
    """The step was refused and retrying cannot change that: compensate. The message is what the
    user is told (\"payment declined by the issuer\")."""


class DriverCrashed(BaseException):
    """A fault point set to "crash": the driver stops there as if its process died (nothing in the
    engine catches it, and its lease is kept until it runs out)."""


@dataclass
class Context:
    """What an action or a compensation sees: the saga's id, its data (the start data, then
    whatever the done steps returned), and the attempt."""

    run_id: uuid.UUID
    data: dict[str, Any]
    attempt: int = 1

    def key(self, step: str) -> str:
        """The idempotency key of a remote call: the same on every retry and after a crash."""
        return f"{self.run_id}:{step}"


Action = Callable[[Context], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Step:
    name: str
    action: Action
    compensation: Callable[[Context], None] | None = None
    local: bool = True
    timeout_s: float = 10.0  # from its first attempt: past it, the step failed


@dataclass(frozen=True)
class Saga:
    name: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def __init__(self, name: str, steps: Iterable[Step]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", tuple(steps))
        names = [step.name for step in self.steps]
        if len(set(names)) != len(names):
            raise SeamError(f"saga {name!r} names a step twice: {names}")


# Fault points for tests and chaos runs: "STEP:before" (before the action), "STEP:before_commit"
# (a local step: its work done in its transaction, not committed), "STEP:after" (after its result
# is committed), "STEP:reply_lost" (a remote step: the call went through, its answer
# is dropped), "STEP:compensate" (before its compensation). What happens there:
#   raise  a TimeoutError, as a call that did not answer (the engine retries, then compensates)
#   crash  DriverCrashed, as a driver that died there (another driver takes over after its lease)
#   exit   the process ends at once (os._exit), for tests that SIGKILL-like a real process
# with "-once" the fault fires once. Set by tests in FAULTS, or by env
# SEAM_SAGA_FAULTS="authorise:reply_lost=raise,confirm:before=exit-once".
FAULTS: dict[str, str] = {}


def _faults() -> dict[str, str]:
    configured = dict(FAULTS)
    for item in filter(None, os.environ.get("SEAM_SAGA_FAULTS", "").split(",")):
        point, _, how = item.partition("=")
        configured.setdefault(point.strip(), how.strip() or "raise")
    return configured


def fault_point(point: str) -> None:
    how = _faults().get(point)
    if not how:
        return
    if how.endswith("-once"):
        how = how.removesuffix("-once")
        FAULTS.pop(point, None)
        os.environ["SEAM_SAGA_FAULTS"] = ",".join(
            item for item in os.environ.get("SEAM_SAGA_FAULTS", "").split(",")
            if item and item.partition("=")[0].strip() != point
        )  # fmt: skip
    log.error("saga: fault %s: %s", point, how)
    if how == "exit":
        os._exit(17)
    if how == "crash":
        raise DriverCrashed(point)
    raise TimeoutError(f"fault injected at {point}")


# Starting and driving


def start(saga_path: str, data: Mapping[str, Any], *, run_id: uuid.UUID | None = None) -> SagaRun:
    """A new saga, committed before anything else happens; SAGA_PATH names its Saga object."""
    definition(saga_path)  # fail now on a wrong path, not in a resumer later
    return SagaRun.objects.create(
        id=run_id or uuid.uuid4(), saga=saga_path, status=RUNNING, data=dict(data)
    )


def definition(saga_path: str) -> Saga:
    try:
        found = import_string(saga_path)
    except ImportError as exc:
        raise SeamError(f"no saga at {saga_path!r} ({exc}); is its module importable?") from None
    if not isinstance(found, Saga):
        raise SeamError(f"{saga_path!r} is not a Saga")
    return found


def drive(run_id: uuid.UUID | str, *, budget_s: float | None = None) -> SagaRun:
    """Drive the saga until it ends, or until its next retry is due after BUDGET_S from now (then
    a resumer takes it on). Returns the run as it stands; a saga another driver holds is left to it."""
    me = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
    run = _take(run_id, me)
    if run is None:
        return SagaRun.objects.get(pk=run_id)
    saga = definition(run.saga)
    deadline = None if budget_s is None else time.monotonic() + budget_s
    try:
        while run.status in ACTIVE:
            wait = _seconds_until_due(run)
            if wait > 0:
                if deadline is not None and time.monotonic() + wait > deadline:
                    break
                time.sleep(wait)
            run = _advance(saga, run, me)
    except LeaseLost as exc:
        log.warning("saga %s: %s; leaving it to that driver", run.pk, exc)
    except DriverCrashed:
        raise  # as a dead process would: the lease stays until it runs out
    except BaseException:
        _release(run.pk, me)
        raise
    _release(run.pk, me)
    return SagaRun.objects.get(pk=run.pk)


def _release(run_id: Any, me: str) -> None:
    SagaRun.objects.filter(pk=run_id, lease_owner=me).update(lease_owner="", lease_until=None)


def resume_due(*, limit: int = 50, budget_s: float | None = 30.0) -> list[SagaRun]:
    """Drive the active sagas nobody holds whose next step is due: those of a killed driver, and
    those waiting for a retry. Run by `manage.py saga resume` and the Celery task."""
    now = timezone.now()
    due = (
        SagaRun.objects.filter(status__in=ACTIVE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    return [drive(run_id, budget_s=budget_s) for run_id in list(due)]


def retry(run_id: uuid.UUID | str) -> SagaRun:
    """Drive a stuck saga's compensation again, its attempts counted from zero."""
    updated = SagaRun.objects.filter(pk=run_id, status=STUCK).update(
        status=COMPENSATING, attempts=0, next_attempt_at=None, updated_at=timezone.now()
    )
    if not updated:
        run = SagaRun.objects.filter(pk=run_id).first()
        if run is None:
            raise SeamError(f"no saga {run_id}; `manage.py saga list` shows them")
        if run.status not in ACTIVE:
            raise SeamError(f"saga {run_id} is {run.status}: there is nothing to retry")
    return drive(run_id)


def _take(run_id: uuid.UUID | str, me: str) -> SagaRun | None:
    now = timezone.now()
    taken = (
        SagaRun.objects.filter(pk=run_id, status__in=ACTIVE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=me, lease_until=now + timedelta(seconds=LEASE_S))
    )
    return SagaRun.objects.get(pk=run_id) if taken else None


def _seconds_until_due(run: SagaRun) -> float:
    if run.next_attempt_at is None:
        return 0.0
    return max(0.0, (run.next_attempt_at - timezone.now()).total_seconds())


def _advance(saga: Saga, run: SagaRun, me: str) -> SagaRun:
    """One attempt of the next thing to do: the current step's action, or its compensation."""
    if run.status == RUNNING:
        return _run_action(saga, run, me)
    return _run_compensation(saga, run, me)


def _run_action(saga: Saga, run: SagaRun, me: str) -> SagaRun:
    if run.step >= len(saga.steps):
        return _save(run, me, status=COMPLETED, finished_at=timezone.now())
    index, step = run.step, saga.steps[run.step]
    attempt = run.attempts + 1
    first = run.step_started_at or timezone.now()
    ctx = Context(run.id, dict(run.data), attempt)
    if run.step_started_at and (timezone.now() - first).total_seconds() >= step.timeout_s:
        # A driver died while the step was under way, and its time is up: do not call again.
        return _compensate_from(
            run, step, f"{step.name}: no answer (gave up after {step.timeout_s:g} s)", attempt, me
        )
    try:
        fault_point(f"{step.name}:before")
        if step.local:
            with transaction.atomic():
                result = step.action(ctx) or {}
                fault_point(f"{step.name}:before_commit")  # its work done, not committed
                run = _done(run, step, result, attempt, me)
        else:
            run = _save(run, me, attempts=attempt, step_started_at=first,
                        log=(step.name, "action", "started", attempt, ""))  # fmt: skip
            result = step.action(ctx) or {}
            fault_point(f"{step.name}:reply_lost")
            with transaction.atomic():
                run = _done(run, step, result, attempt, me)
        fault_point(f"{step.name}:after")
        return run
    except LeaseLost:
        raise
    except StepFailed as exc:
        return _compensate_from(run, step, f"{step.name}: {exc}", attempt, me)
    except Exception as exc:  # noqa: BLE001 - a timeout, a 503, a dropped connection: unsure
        error = f"{step.name}: {type(exc).__name__}: {exc}"
        run.refresh_from_db()
        if run.step != index or run.status != RUNNING:
            return run  # it failed after the step was recorded done: nothing to retry
        if (timezone.now() - first).total_seconds() >= step.timeout_s:
            return _compensate_from(
                run, step, f"{error} (gave up after {step.timeout_s:g} s)", attempt, me
            )
        pause = BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]
        log.warning("saga %s: %s; again in %.1f s", run.id, error, pause)
        return _save(run, me, attempts=attempt, step_started_at=first,
                     next_attempt_at=timezone.now() + timedelta(seconds=pause),
                     log=(step.name, "action", "retry", attempt, error[:2000]))  # fmt: skip


def _done(run: SagaRun, step: Step, result: Mapping[str, Any], attempt: int, me: str) -> SagaRun:
    data = {**run.data, **result}
    return _save(run, me, step=run.step + 1, data=data, attempts=0, step_started_at=None,
                 next_attempt_at=None, log=(step.name, "action", "done", attempt, ""))  # fmt: skip


def _compensate_from(run: SagaRun, step: Step, error: str, attempt: int, me: str) -> SagaRun:
    """Undo from the failed step down: it may have half happened (a remote call whose answer was
    lost); a compensation of a step that did nothing finds nothing to undo."""
    log.info("saga %s compensates: %s", run.id, error)
    return _save(run, me, status=COMPENSATING, attempts=0, step_started_at=None,
                 next_attempt_at=None, error=error[:4000],
                 log=(step.name, "action", "failed", attempt, error[:2000]))  # fmt: skip


def _run_compensation(saga: Saga, run: SagaRun, me: str) -> SagaRun:
    # run.step is the failed step (or, after a crash past its last compensation, -1 is 0 done).
    index = min(run.step, len(saga.steps) - 1)
    while index >= 0 and saga.steps[index].compensation is None:
        index -= 1
    if index < 0:
        return _save(run, me, status=COMPENSATED, finished_at=timezone.now())
    step = saga.steps[index]
    attempt = run.attempts + 1
    ctx = Context(run.id, dict(run.data), attempt)
    try:
        fault_point(f"{step.name}:compensate")
        assert step.compensation is not None
        if step.local:
            with transaction.atomic():
                step.compensation(ctx)
                run = _compensated(run, step, index, attempt, me)
        else:
            step.compensation(ctx)
            run = _compensated(run, step, index, attempt, me)
        return run
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - a compensation must go through: keep trying
        error = f"undo {step.name}: {type(exc).__name__}: {exc}"
        run.refresh_from_db()
        if attempt >= COMPENSATION_ATTEMPTS:
            log.error("saga %s is stuck: %s", run.id, error)
            return _save(run, me, status=STUCK, attempts=attempt, error=error[:4000],
                         log=(step.name, "compensation", "failed", attempt, error[:2000]))  # fmt: skip
        pause = BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]
        log.warning("saga %s: %s; again in %.1f s", run.id, error, pause)
        return _save(run, me, attempts=attempt, next_attempt_at=timezone.now() + timedelta(seconds=pause),
                     log=(step.name, "compensation", "retry", attempt, error[:2000]))  # fmt: skip


def _compensated(run: SagaRun, step: Step, index: int, attempt: int, me: str) -> SagaRun:
    if index == 0:
        return _save(run, me, step=0, status=COMPENSATED, attempts=0, next_attempt_at=None,
                     finished_at=timezone.now(),
                     log=(step.name, "compensation", "done", attempt, ""))  # fmt: skip
    return _save(run, me, step=index - 1, attempts=0, next_attempt_at=None,
                 log=(step.name, "compensation", "done", attempt, ""))  # fmt: skip


def _save(run: SagaRun, me: str, *, log: tuple | None = None, **changes: Any) -> SagaRun:
    """Record the saga's new state (and renew the lease) if this driver still holds it; a driver
    whose lease was taken over stops (LeaseLost) rather than write over the new driver."""
    now = timezone.now()
    changes.update(updated_at=now)
    if changes.get("status") in (*FINISHED, STUCK):
        changes.update(lease_owner="", lease_until=None)
    else:
        changes.update(lease_until=now + timedelta(seconds=LEASE_S))
    with transaction.atomic():
        if not SagaRun.objects.filter(pk=run.pk, lease_owner=me).update(**changes):
            raise LeaseLost(f"saga {run.pk}: another driver took it over")
        if log is not None:
            step, phase, outcome, attempt, detail = log
            SagaStepLog.objects.create(run_id=run.pk, step=step, phase=phase, outcome=outcome,
                                       attempt=attempt, detail=detail)  # fmt: skip
    for name, value in changes.items():
        setattr(run, name, value)
    return run


class LeaseLost(SeamError):
    pass
