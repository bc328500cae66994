"""`figkit check`: a seeded violation fails with file:line, its removal passes, cycles are named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.errors import AnalyzerError
from analyzer.fitness import check, rules_from
from analyzer.pipeline import analyze

FIXTURE = Path(__file__).parent / "fixtures" / "twoclusters"
FIGKIT = Path(sys.executable).with_name("figkit")
CONFIG = """
[tool.figkit.boundaries]
billing = ["billing", "invoices"]
catalog = ["catalog", "stock"]

[[tool.figkit.allow]]
from = "billing"
to = "catalog"
kinds = ["import"]
"""


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "twoclusters"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(CONFIG)
    return root


def figkit_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(FIGKIT), "check", str(root), "--cache-dir", str(root.parent / "cache"), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_seeded_violation_fails_with_file_and_line_and_passes_once_removed(project):
    assert figkit_check(project).returncode == 0
    models = project / "stock" / "models.py"
    clean = models.read_text()
    models.write_text(
        clean
        + '\n\nclass Reservation(models.Model):\n    account = models.ForeignKey("billing.Account", on_delete=models.CASCADE)\n'
    )
    failed = figkit_check(project)
    assert failed.returncode == 1
    assert (
        "stock/models.py:15: catalog -> billing: fk stock.Reservation -> billing.Account is not allowed"
        in failed.stdout
    )
    assert "FAILED" in failed.stderr
    models.write_text(clean)
    assert figkit_check(project).returncode == 0


def test_an_import_the_rules_do_not_allow_is_a_violation(project):
    (project / "pyproject.toml").write_text(
        CONFIG.replace('kinds = ["import"]', 'kinds = ["orm_read"]')
    )
    result = figkit_check(project)
    assert (
        result.returncode == 1
        and "invoices/views.py:5: billing -> catalog: import" in result.stdout
    )


def test_a_cycle_between_services_is_named_with_the_link_to_break(project):
    (project / "pyproject.toml").write_text(
        CONFIG + '\n[[tool.figkit.allow]]\nfrom = "catalog"\nto = "billing"\n'
    )
    (project / "stock" / "views.py").write_text(
        (project / "stock" / "views.py").read_text()
        + "\n\nfrom billing.models import Account  # noqa\n"
    )
    result = figkit_check(project, "--json")
    assert result.returncode == 1
    import json

    report = json.loads(result.stdout)
    assert report["violations"] == []
    (cycle,) = report["cycles"]
    assert sorted(cycle["services"]) == ["billing", "catalog"]
    assert cycle["break"]["edges"] and cycle["break"]["edges"][0]["evidence"][0]["file"]


def test_code_outside_every_boundary_may_call_in(project):
    (project / "pyproject.toml").write_text(
        CONFIG.replace('billing = ["billing", "invoices"]\n', "")
    )
    document = analyze(project, jobs=1).to_json()
    rules = rules_from({"boundaries": {"catalog": ["catalog", "stock"]}})
    assert check(
        document, rules
    ).ok  # billing and invoices are the monolith now: they may use catalog


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("", "--init` writes the suggested split as a starting point"),
        ("[tool.figkit]\nseed = 3\n", "declares no [tool.figkit.boundaries]; `figkit check"),
        ('[tool.figkit.boundaries]\nbilling = "billing"\n', "maps a service to its apps"),
        (
            '[tool.figkit.boundaries]\na = ["billing"]\nb = ["billing"]\n',
            "declared in two boundaries",
        ),
        (
            '[tool.figkit.boundaries]\na = ["billing"]\n[[tool.figkit.allow]]\nfrom = "a"\nto = "zz"\n',
            "'zz' is no declared service",
        ),
        ('[tool.figkit.boundaries]\na = ["bling"]\n', "'bling', which is no app"),
    ],
)
def test_config_mistakes_exit_2_with_one_line(project, config, says):
    (project / "pyproject.toml").write_text(config)
    result = figkit_check(project)
    assert result.returncode == 2, result.stdout
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_rules_name_unknown_kinds():
    with pytest.raises(AnalyzerError, match="no edge kind"):
        rules_from(
            {
                "boundaries": {"a": ["x"]},
                "allow": [{"from": "a", "to": "monolith", "kinds": ["imports"]}],
            }
        )


def test_the_monolith_passes_its_own_boundary_and_fails_on_a_new_foreign_key(tmp_path):
    root = tmp_path / "legacy_monolith"
    shutil.copytree(Path(__file__).resolve().parents[2] / "legacy_monolith", root,
                    ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))  # fmt: skip
    assert figkit_check(root).returncode == 0
    models = root / "catalog" / "models.py"
    models.write_text(
        models.read_text()
        + '\n\nclass Bestseller(models.Model):\n    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE)\n'
    )
    result = figkit_check(root)
    assert (
        result.returncode == 1
        and "fk catalog.Bestseller -> orders.Order is not allowed" in result.stdout
    )


def test_a_baseline_accepts_todays_debt_and_fails_on_new_coupling(project, tmp_path):
    (project / "pyproject.toml").write_text(
        CONFIG.replace('kinds = ["import"]', 'kinds = ["orm_read"]')
    )
    baseline = tmp_path / "figkit-baseline.json"
    missing = figkit_check(project, "--baseline", str(baseline))
    assert missing.returncode == 2 and "write it with --update-baseline" in missing.stderr
    written = figkit_check(project, "--baseline", str(baseline), "--update-baseline")
    assert written.returncode == 0 and "wrote 1 known couplings" in written.stdout
    passed = figkit_check(project, "--baseline", str(baseline))
    assert passed.returncode == 0 and "(1 known ones in the baseline)" in passed.stdout
    models = project / "stock" / "models.py"
    clean = models.read_text()
    models.write_text(
        clean
        + '\n\nclass Hold(models.Model):\n    account = models.ForeignKey("billing.Account", on_delete=models.CASCADE)\n'
    )
    failed = figkit_check(project, "--baseline", str(baseline))
    assert failed.returncode == 1 and "fk stock.Hold -> billing.Account" in failed.stdout
    assert "invoices/views.py:5" not in failed.stdout  # the known import is not reported again
    models.write_text(clean)
    views = project / "invoices" / "views.py"
    views.write_text(
        views.read_text()
        .replace("from catalog.pricing import round_price\n", "")
        .replace("round_price(", "int(")
    )
    fixed = figkit_check(project, "--baseline", str(baseline))
    assert fixed.returncode == 0 and "fixed, drop it from the baseline" in fixed.stderr
