"""Edges that mark a seam and were missing: raw SQL that writes inside an atomic block,
receivers connected with no sender, and Celery beat schedules."""

from __future__ import annotations

import pytest

from analyzer.pipeline import analyze
from tests.analyzer.conftest import FIXTURES, Facts

ROOT = FIXTURES / "edges_seams"


@pytest.fixture(scope="module")
def seams() -> Facts:
    return Facts(analyze(ROOT, jobs=1, cache_dir=None).to_json(), ROOT)


def test_raw_sql_that_updates_a_table_inside_an_atomic_block_is_a_write_of_that_block(seams):
    line = seams.line("billing/services.py", "with transaction.atomic():")
    assert ("billing/services.py", line) in seams.evidence(
        "atomic", "billing.services", "ledger.Entry"
    )
    assert ("billing/services.py", line) in seams.evidence(
        "atomic", "billing.services", "billing.Invoice"
    )


def test_raw_sql_in_a_function_called_from_an_atomic_function_counts_too(seams):
    line = seams.line("billing/services.py", "def issue_and_book")
    evidence = seams.edges("atomic")[("billing.services", "ledger.Entry")]["evidence"]
    assert any(e["line"] in (line, line - 1) and e.get("function", "").endswith("issue_and_book")
               for e in evidence), evidence  # fmt: skip


def test_a_select_inside_an_atomic_block_is_no_write(seams):
    evidence = seams.edges("atomic")[("billing.services", "ledger.Entry")]["evidence"]
    assert not any(str(e.get("function", "")).endswith("report") for e in evidence)


def test_a_receiver_with_no_sender_is_coupled_to_every_model_it_hears(seams):
    signal = seams.edges("signal")
    line = seams.line("audit/receivers.py", "def log_every_save")
    for model in ("billing.Invoice", "ledger.Entry"):
        edge = signal[("audit.receivers", model)]
        assert {(e["file"], e["line"], e["sender"]) for e in edge["evidence"]} == {
            ("audit/receivers.py", line, "*")
        }


def test_a_beat_schedule_entry_is_a_task_edge_from_the_module_that_schedules_it(seams):
    edge = seams.edges("task")[("site.settings", "ledger.tasks")]
    line = seams.line("site/settings.py", '"close-the-day"')
    assert [(e["file"], e["scheduled"]) for e in edge["evidence"]] == [("site/settings.py", True)]
    assert line <= edge["evidence"][0]["line"] <= line + 3
