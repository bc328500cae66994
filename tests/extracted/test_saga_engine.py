"""The saga engine (extracted.seam.saga) on a small saga with a local step, a remote step against a
real loopback ledger, and a last local step: every run ends completed or fully compensated,
whatever fails where."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from extracted.seam import saga
from extracted.seam.models import SagaRun
from legacy_monolith.core.models import SiteSetting
from tests.extracted import saga_toy

STEPS = ["hold_seat", "charge", "confirm"]


@pytest.fixture
def ledger():
    server = saga_toy.Ledger()
    saga_toy.LEDGER_URL["url"] = server.url
    yield server
    server.close()
    saga.FAULTS.clear()


def consistent(run: SagaRun, ledger: saga_toy.Ledger) -> str:
    """completed: the seat sold and one live charge; compensated: no seat, no live charge."""
    seats = list(SiteSetting.objects.filter(key=f"seat:{run.id}").values_list("value", flat=True))
    charges = [c for c in ledger.live() if c["ref"] == str(run.id)]
    if run.status == saga.COMPLETED:
        assert seats == ["sold"] and len(charges) == 1, (seats, charges)
    else:
        assert run.status == saga.COMPENSATED, (run.status, run.error)
        assert seats == [] and charges == [], (seats, charges)
    return run.status


def drive_to_end(run_id) -> SagaRun:
    """Drive, and after a driver 'died' (a raise out of drive), take over once its lease is gone."""
    for _ in range(20):
        try:
            run = saga.drive(run_id, budget_s=10)
        except saga.DriverCrashed:
            SagaRun.objects.filter(pk=run_id).update(
                lease_until=timezone.now() - timedelta(seconds=1)
            )
            continue
        if run.status not in saga.ACTIVE:
            return run
    raise AssertionError(f"saga {run_id} did not end: {SagaRun.objects.get(pk=run_id).status}")


@pytest.mark.django_db
def test_a_saga_runs_every_step_and_completes(ledger):
    run = saga.drive(saga.start(saga_toy.PATH, {"card": "ok"}).id)
    assert consistent(run, ledger) == saga.COMPLETED
    assert [(e.step, e.outcome) for e in run.log.filter(outcome="done")] == [
        (s, "done") for s in STEPS
    ]


@pytest.mark.django_db
def test_a_refused_step_is_not_retried_and_what_was_done_is_undone(ledger):
    run = saga.drive(saga.start(saga_toy.PATH, {"card": "declined"}).id)
    assert consistent(run, ledger) == saga.COMPENSATED
    assert run.error == "charge: card declined"
    assert run.log.filter(step="charge", phase="action").exclude(outcome="started").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["crash-once", "raise-once"])
@pytest.mark.parametrize("point", [f"{step}:{where}" for step in STEPS for where in ("before", "after")]
                         + ["hold_seat:before_commit", "confirm:before_commit", "charge:reply_lost"])  # fmt: skip
def test_a_failure_or_a_dying_driver_at_any_point_leaves_a_saga_that_ends_consistent(
    ledger, point, how
):
    """crash: the driver stops there as a killed process would, and the next one takes over after
    its lease; raise: the step fails there once (a timeout) and is retried."""
    saga.FAULTS[point] = how
    run = saga.start(saga_toy.PATH, {"card": "ok"})
    ended = drive_to_end(run.id)
    assert consistent(ended, ledger) == saga.COMPLETED
    assert len(ledger.charges) == 1, "the charge was retried with its key: one charge"


@pytest.mark.django_db
def test_a_remote_step_that_never_succeeds_times_out_and_is_compensated(ledger):
    saga.FAULTS["charge:reply_lost"] = (
        "raise"  # every answer lost (a timeout): the charge happened, unseen
    )
    run = drive_to_end(saga.start(saga_toy.PATH, {"card": "ok"}).id)
    assert consistent(run, ledger) == saga.COMPENSATED
    assert "gave up after 1.5 s" in run.error
    assert run.log.filter(step="charge", outcome="retry").count() >= 2


@pytest.mark.django_db
def test_a_compensation_that_keeps_failing_leaves_the_saga_stuck_until_retried(
    ledger, monkeypatch, capsys
):
    monkeypatch.setattr(saga, "BACKOFF_S", (0.0,))
    saga.FAULTS["charge:compensate"] = "raise"
    run = saga.drive(saga.start(saga_toy.PATH, {"card": "declined"}).id)
    assert run.status == saga.STUCK and "undo charge" in run.error
    call_command("saga", "list", "--status", "stuck", "--json")
    assert json.loads(capsys.readouterr().out)["counts"] == {"stuck": 1}
    saga.FAULTS.clear()
    call_command("saga", "retry", str(run.id))
    assert consistent(SagaRun.objects.get(pk=run.id), ledger) == saga.COMPENSATED


@pytest.mark.django_db
def test_a_saga_held_by_a_live_driver_is_left_to_it(ledger):
    run = saga.start(saga_toy.PATH, {"card": "ok"})
    SagaRun.objects.filter(pk=run.id).update(
        lease_owner="other", lease_until=timezone.now() + timedelta(seconds=60)
    )
    assert saga.drive(run.id).status == saga.RUNNING
    assert saga.resume_due() == []
    SagaRun.objects.filter(pk=run.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    [resumed] = saga.resume_due()
    assert consistent(resumed, ledger) == saga.COMPLETED


@pytest.mark.django_db
def test_saga_show_tells_the_history_and_hides_card_tokens(ledger, capsys):
    run = saga.drive(saga.start(saga_toy.PATH, {"card": "ok", "card_token": "tok_secret"}).id)
    call_command("saga", "show", str(run.id), "--json")
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "completed" and shown["data"]["card_token"] == "***"
    assert [e["step"] for e in shown["history"] if e["outcome"] == "done"] == STEPS


@pytest.mark.django_db
def test_a_switch_set_live_overrides_its_setting_within_a_second(settings, capsys, monkeypatch, request):
    from extracted.seam import switches
    from legacy_monolith.orders.api import order_detail_reads

    monkeypatch.setattr(switches, "SWITCH_TTL_S", 0.0)
    request.addfinalizer(switches.forget)  # the rows roll back; the cache must not outlive them
    settings.CHECKOUT_MODE = "atomic"
    call_command("switch", "checkout")
    assert capsys.readouterr().out.strip() == "checkout: atomic"
    call_command("switch", "checkout", "saga")
    assert switches.value("checkout", settings.CHECKOUT_MODE) == "saga"
    call_command("switch", "order-reads", "compose")
    assert order_detail_reads() == "compose"
    with pytest.raises(CommandError, match="compose or join"):
        call_command("switch", "order-reads", "sometimes")
