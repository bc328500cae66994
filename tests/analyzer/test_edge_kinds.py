"""Edge kinds are defined once (analyzer/edge_kinds.py); every other place reads or agrees."""

from __future__ import annotations

import json
import re
from pathlib import Path

from analyzer import edge_kinds
from analyzer.decompose.coupling import DEFAULT_WEIGHTS
from analyzer.decompose.metrics import CUT_KINDS
from analyzer.decompose.plan import PLAN_LISTS

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_enum_lists_exactly_the_registered_kinds():
    schema = json.loads((ROOT / "analyzer/schema/analysis.schema.json").read_text())
    edge = schema["properties"]["edges"]["items"]["properties"]["kind"]
    assert edge["enum"] == list(edge_kinds.KIND_NAMES)


def test_report_js_has_no_list_of_kinds_of_its_own():
    js = (ROOT / "analyzer/report/report.js").read_text()
    quoted = {m for m in re.findall(r'"([a-z_]+)"', js) if m in edge_kinds.EDGE_KINDS}
    # A kind may be named where the page treats it specially, never listed wholesale.
    assert len(quoted) < len(edge_kinds.KIND_NAMES) // 2, sorted(quoted)
    assert "data.edge_kinds" in js


def test_weights_cut_counts_and_plan_lists_come_from_the_registry():
    assert {k.name: k.weight for k in edge_kinds.EDGE_KIND_LIST} == DEFAULT_WEIGHTS
    bucketed = {kind for kinds in CUT_KINDS.values() for kind in kinds}
    assert bucketed == {k.name for k in edge_kinds.EDGE_KIND_LIST if k.cut_bucket}
    assert set(PLAN_LISTS) == {k.plan_key for k in edge_kinds.EDGE_KIND_LIST if k.plan_key}


def test_every_kind_that_is_cut_says_what_it_becomes_and_how_to_do_it():
    for kind in edge_kinds.EDGE_KIND_LIST:
        if kind.plan_key:
            assert kind.becomes and kind.task, kind.name


def test_the_docs_show_the_registry_table():
    docs = (ROOT / "docs/analyzer.md").read_text()
    assert edge_kinds.docs_table() in docs, (
        "docs/analyzer.md is out of date: paste `python -m analyzer.edge_kinds` over its table"
    )
