"""`figkit check`'s [outbox] rule: writes of a guarded model that send no signal (update(),
bulk_create(), bulk_update(), raw SQL, on_delete=SET_NULL) are flagged with file:line; a save()
is not, nor an unguarded model's update(), nor a write the allow list accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.decompose.config import options_from
from analyzer.errors import AnalyzerError
from analyzer.extract import extract
from analyzer.outbox import OutboxRule, check_outbox, outbox_rule_from
from analyzer.pipeline import analyze

from .conftest import line_of

FIXTURE = Path(__file__).parent / "fixtures" / "outbox_writes"
FIGKIT = Path(sys.executable).with_name("figkit")


@pytest.fixture(scope="module")
def document() -> dict:
    return analyze(FIXTURE, jobs=1).to_json()


def flagged(document: dict, **rule: object) -> dict[tuple[str, int], str]:
    """(file, line) -> kind of each write the rule flags."""
    result = check_outbox(document, OutboxRule.model_validate(rule))
    return {(b.file, b.line): b.kind for b in result.bypasses}


def at(relpath: str, text: str) -> tuple[str, int]:
    return relpath, line_of(FIXTURE, relpath, text)


def test_a_bulk_update_of_a_guarded_model_is_flagged(document):
    found = flagged(document, models=["shop.Product"])
    assert found[at("shop/pricing.py", ".update(")] == "update"


def test_a_save_through_the_model_is_not_flagged(document):
    saves = [
        ev for e in document["edges"] if e["kind"] == "orm_write" for ev in e["evidence"]
        if ev["file"] == "shop/renaming.py"
    ]  # fmt: skip
    assert [ev["method"] for ev in saves] == ["save"]  # the analysis sees the write ...
    found = flagged(document, apps=["shop"])
    assert not [place for place in found if place[0] == "shop/renaming.py"]  # ... and lets it be


def test_raw_sql_that_writes_a_guarded_table_is_flagged_and_a_select_is_not(document):
    found = flagged(document, models=["shop.Product"])
    assert found[at("shop/cleanup.py", "UPDATE shop_product")] == "raw_sql"
    assert at("shop/cleanup.py", "SELECT count(*)") not in found


def test_raw_sql_handed_to_a_helper_that_executes_it_is_flagged(document):
    found = flagged(document, models=["shop.Product"])
    assert found[at("shop/cleanup.py", 'run("DELETE')] == "raw_sql"


def test_bulk_create_and_bulk_update_are_flagged(document):
    found = flagged(document, models=["shop.Product"])
    assert found[at("shop/importing.py", "bulk_create")] == "bulk_create"
    assert found[at("shop/repricing.py", "bulk_update")] == "bulk_update"


def test_an_unguarded_models_update_is_not_flagged(document):
    found = flagged(document, apps=["shop"])
    assert not [place for place in found if place[0].startswith("ledger/")]
    assert at("ledger/closing.py", ".update(") in flagged(document, apps=["ledger"])


def test_a_multi_table_child_of_a_guarded_model_is_guarded(document):
    result = check_outbox(document, OutboxRule(models=["shop.Product"]))
    assert result.guarded == ["shop.DigitalProduct", "shop.Product"]
    assert (at("shop/downloads.py", ".update("), "shop.DigitalProduct") in {
        ((b.file, b.line), b.model) for b in result.bypasses
    }


def test_on_delete_set_null_on_a_guarded_model_is_flagged_and_protect_is_not(document):
    found = flagged(document, models=["shop.Product"])
    assert found[at("shop/models.py", "brand = ")] == "on_delete"
    assert at("shop/models.py", "maker = ") not in found
    assert at("shop/models.py", "brand = ") not in flagged(document, models=["shop.Brand"])


def test_an_allowed_write_is_not_flagged_and_counts_as_allowed(document):
    rule = OutboxRule.model_validate(
        {"apps": ["shop"], "allow": [{"function": "shop.seeding.*", "kinds": ["bulk_create"]}]}
    )
    result = check_outbox(document, rule)
    seeding = at("shop/seeding.py", "bulk_create")
    assert seeding not in {(b.file, b.line) for b in result.bypasses}
    assert [(b.file, b.line) for b in result.allowed] == [seeding]
    assert result.unused_allows == []


def test_an_allow_entry_only_accepts_the_kinds_it_names(document):
    rule = OutboxRule.model_validate(
        {"apps": ["shop"], "allow": [{"file": "shop/seeding.py", "kinds": ["update"]}]}
    )
    result = check_outbox(document, rule)
    assert at("shop/seeding.py", "bulk_create") in {(b.file, b.line) for b in result.bypasses}
    assert result.unused_allows == [0]


# -- the command ------------------------------------------------------------------------------
CONFIG = """
[tool.figkit.outbox]
apps = ["shop"]

[[tool.figkit.outbox.allow]]
function = "shop.seeding.*"
kinds = ["bulk_create"]
reason = "the first load; a backfill snapshot covers it"
"""


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "outbox_writes"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(CONFIG)
    return root


def figkit_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(FIGKIT), "check", str(root), "--cache-dir", str(root.parent / "cache"), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_each_bypass_is_one_line_with_file_and_line_and_the_check_exits_1(project):
    result = figkit_check(project)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    line = line_of(project, "shop/pricing.py", ".update(")
    assert (
        f"shop/pricing.py:{line}: shop.Product update() in shop.pricing.double_prices bypasses "
        "the outbox: save through the model, or call extracted.seam.outbox.publish() in the "
        "same transaction"
    ) in lines
    assert len(lines) == 7 and all(": " in x and "bypasses the outbox" in x for x in lines)
    assert not [x for x in lines if "seeding.py" in x or "renaming.py" in x or "ledger/" in x]
    assert result.stderr.strip().splitlines()[-1] == (
        "figkit check: FAILED: 7 writes bypass the outbox (3 models guarded, 1 allowed)"
    )


def test_the_check_passes_once_every_bypass_is_allowed_and_names_a_stale_allow(project):
    config = CONFIG + '\n[[tool.figkit.outbox.allow]]\nfile = "shop/*.py"\nkinds = ["update", '
    config += '"bulk_update", "bulk_create", "raw_sql", "on_delete"]\n'
    config += '\n[[tool.figkit.outbox.allow]]\nfunction = "shop.gone.*"\n'
    (project / "pyproject.toml").write_text(config)
    result = figkit_check(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outbox allow #3 (function=shop.gone.*) accepts no write any more" in result.stderr
    assert "figkit check: ok: 0 writes bypass the outbox (3 models guarded, 8 allowed)" in (
        result.stdout
    )


def test_the_json_report_carries_each_bypass_with_its_message(project):
    result = figkit_check(project, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["violations"] == []
    kinds = sorted(b["kind"] for b in report["outbox"]["bypasses"])
    assert kinds == ["bulk_create", "bulk_update", "on_delete", "raw_sql", "raw_sql", "update",
                     "update"]  # fmt: skip
    assert all(
        b["message"].startswith(f"{b['file']}:{b['line']}: ") for b in report["outbox"]["bypasses"]
    )


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('models = ["shop.Prodcut"]', "'shop.Prodcut' is no model of the analysed project; did you mean shop.Product?"),
        ('apps = ["shops"]', "'shops' is no app with models in the analysed project; did you mean shop?"),
        ("", "[tool.figkit.outbox] names no models"),
        ('apps = ["shop"]\nmodel = ["shop.Product"]', "[tool.figkit.outbox] model: Extra inputs are not permitted"),
        ('apps = ["shop"]\n[[tool.figkit.outbox.allow]]\nkinds = ["update"]', "allow #1 accepts every write"),
        ('apps = ["shop"]\n[[tool.figkit.outbox.allow]]\nfile = "x.py"\nkinds = ["save"]', "[tool.figkit.outbox] allow #1 kinds #1: Input should be 'update'"),
    ],
)  # fmt: skip
def test_outbox_config_mistakes_exit_2_with_one_line(project, table, says):
    (project / "pyproject.toml").write_text(f"[tool.figkit.outbox]\n{table}\n")
    result = figkit_check(project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_analyze_reads_a_config_with_an_outbox_table():
    options_from({"outbox": {"apps": ["shop"]}, "seed": 3})  # no "unknown key" error
    assert outbox_rule_from({"seed": 3}) is None
    with pytest.raises(AnalyzerError, match="outbox is a table"):
        outbox_rule_from({"outbox": ["shop"]})


@pytest.mark.parametrize(
    ("field", "on_delete"),
    [
        ("models.ForeignKey(Brand, on_delete=models.SET_NULL, null=True)", "SET_NULL"),
        ("models.ForeignKey(Brand, models.SET_DEFAULT)", "SET_DEFAULT"),
        ("models.ForeignKey(to=Brand, on_delete=models.SET(pick))", "SET"),
        ("models.OneToOneField(Brand, CASCADE)", "CASCADE"),
        ("models.ManyToManyField(Brand)", None),
    ],
)
def test_a_relations_on_delete_is_read_keyword_or_positional(field, on_delete):
    source = (
        "from django.db import models\nfrom django.db.models import CASCADE\n\n"
        f"class Product(models.Model):\n    brand = {field}\n"
    )
    facts = extract(source.encode(), "shop/models.py", "shop.models", False)
    (relation,) = facts.classes[0].relations
    assert relation.on_delete == on_delete
