"""`figkit plan` writes to a new folder unless --in-place; `figkit check --init` writes the
suggested split as boundaries without clobbering a config."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIGKIT = Path(sys.executable).with_name("figkit")


def figkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FIGKIT), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- figkit plan ---------------------------------------------------------------------------
@pytest.fixture
def analysed(tmp_path) -> Path:
    """An analyze folder of the counts fixture: analysis.json, routes/, report.md."""
    out = tmp_path / "report"
    project = FIXTURES / "counts_abstract_proxy_and_methods"
    assert (
        figkit("analyze", project, "--out", out, "--format", "json,md", "--no-cache").returncode
        == 0
    )
    return out


def test_plan_writes_a_new_folder_and_leaves_the_analysis_alone(analysed):
    before = digest(analysed)
    first = figkit("plan", analysed / "analysis.json", "--services", "1", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert {k: v for k, v in digest(analysed).items() if not k.startswith("plan-")} == before
    plan = json.loads((analysed / "plan-1" / "analysis.json").read_text())
    assert plan["counts"]["services"]["count"] == 1
    assert f"wrote {analysed / 'plan-1' / 'analysis.json'}" in first.stdout
    assert f"route files under {analysed / 'plan-1' / 'routes'}" in first.stdout
    second = figkit("plan", analysed / "analysis.json", "--format", "json")
    assert second.returncode == 0 and (analysed / "plan-2" / "analysis.json").is_file()
    assert {k: v for k, v in digest(analysed).items() if not k.startswith("plan-")} == before


def test_plan_refuses_a_folder_that_holds_files_unless_forced(analysed, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    refused = figkit("plan", analysed / "analysis.json", "--out", busy)
    assert refused.returncode == 2
    assert "is not empty; pass a new --out, or --force" in one_line(refused)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    forced = figkit(
        "plan", analysed / "analysis.json", "--out", busy, "--force", "--format", "json"
    )
    assert forced.returncode == 0 and (busy / "analysis.json").is_file()
    assert (busy / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        figkit("plan", analysed / "analysis.json", "--out", empty, "--format", "json").returncode
        == 0
    )
    assert (empty / "analysis.json").is_file() and list((empty / "routes").glob("*.json"))


def test_plan_in_place_says_what_it_replaced(analysed):
    old_routes = sorted(p.name for p in (analysed / "routes").glob("*.json"))
    result = figkit(
        "plan", analysed / "analysis.json", "--in-place", "--services", "1", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    assert f"replaced {analysed / 'analysis.json'}" in result.stdout
    assert f"(removed the {len(old_routes)} that were there)" in result.stdout
    assert json.loads((analysed / "analysis.json").read_text())["counts"]["services"]["count"] == 1
    assert not [p for p in analysed.iterdir() if p.name.startswith("plan-")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--in-place", "--out", "elsewhere"], "--in-place writes beside ANALYSIS"),
        (["--out", "analysis.json"], "is a file; pass a folder"),
    ],
)
def test_plan_option_mistakes_are_one_line(analysed, args, says):
    args = [str(analysed / a) if a in ("elsewhere", "analysis.json") else a for a in args]
    result = figkit("plan", analysed / "analysis.json", *args)
    assert result.returncode == 2 and says in one_line(result)


# --- figkit check --init -------------------------------------------------------------------
@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "twoclusters"
    shutil.copytree(FIXTURES / "twoclusters", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return figkit("check", root, "--cache-dir", root.parent / "cache", *args)


def test_check_without_boundaries_points_to_init(project):
    result = check(project)
    assert result.returncode == 2
    assert f"`figkit check {project} --init` writes the suggested split" in one_line(result)
    assert not (project / "figkit.toml").exists()


def test_init_writes_the_suggested_split_to_figkit_toml_and_check_reads_it(project):
    result = check(project, "--init")
    assert f"as boundaries to {project / 'figkit.toml'}" in result.stdout
    config = tomllib.loads((project / "figkit.toml").read_text())
    # the fixture's two clusters by construction, with the one import that crosses them
    assert config["boundaries"] == {
        "billing": ["billing", "invoices"],
        "catalog": ["catalog", "stock"],
    }
    assert result.returncode == 1
    assert "invoices/views.py:5: billing -> catalog: import" in result.stdout
    assert "--baseline figkit-baseline.json --update-baseline" in result.stderr
    again = check(project)
    assert again.returncode == 1 and "2 services declared" in again.stderr
    baseline = project / "figkit-baseline.json"
    assert check(project, "--baseline", str(baseline), "--update-baseline").returncode == 0
    assert check(project, "--baseline", str(baseline)).returncode == 0


def test_init_adds_to_a_pyproject_without_touching_what_is_there(project):
    original = '[project]\nname = "shop"\n\n[tool.figkit]\nseed = 7   # kept\n'
    (project / "pyproject.toml").write_text(original)
    result = check(project, "--init")
    assert result.returncode == 1, result.stderr
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(original) and not (project / "figkit.toml").exists()
    figkit_table = tomllib.loads(text)["tool"]["figkit"]
    assert figkit_table["seed"] == 7 and set(figkit_table["boundaries"]) == {"billing", "catalog"}


def test_init_refuses_to_overwrite_boundaries(project):
    config = '[tool.figkit.boundaries]\nbilling = ["billing"]\n'
    (project / "pyproject.toml").write_text(config)
    result = check(project, "--init")
    assert result.returncode == 2
    assert "declares boundaries already" in one_line(result)
    assert (project / "pyproject.toml").read_text() == config


def test_init_refuses_a_config_it_cannot_extend_without_rewriting(project):
    config = "[tool]\nfigkit = { seed = 7 }\n"
    (project / "pyproject.toml").write_text(config)
    result = check(project, "--init")
    assert result.returncode == 2 and "without rewriting it" in one_line(result)
    assert (project / "pyproject.toml").read_text() == config


def test_the_suggested_rules_let_every_service_use_the_shared_kernel_and_read_back():
    from analyzer.fitness import rules_toml, suggested_rules

    apps = ["orders", "payments", "catalog", "core"]
    data = {
        "apps": [{"label": a, "modules": [a, f"{a}.models"]} for a in apps],
        "models": [],
        "edges": [],
        "services": [
            {"name": "orders & pay", "models": [], "modules": ["orders", "orders.models", "payments", "payments.models"]},
            {"name": "catalog", "models": [], "modules": ["catalog", "catalog.models"]},
            {"name": "shared-kernel", "kind": "shared_kernel", "models": [], "modules": ["core", "core.models"]},
        ],
    }  # fmt: skip
    rules = suggested_rules(data)
    assert rules.boundaries == {
        "catalog": ("catalog",),
        "orders & pay": ("orders", "payments"),
        "shared-kernel": ("core",),
    }
    assert {(a.source, a.target, a.kinds) for a in rules.allow} == {
        ("catalog", "shared-kernel", frozenset()),
        ("orders & pay", "shared-kernel", frozenset()),
    }
    back = tomllib.loads(rules_toml(rules, in_pyproject=True))["tool"]["figkit"]
    assert back["boundaries"]["orders & pay"] == ["orders", "payments"]
    assert {(a["from"], a["to"]) for a in back["allow"]} == {
        ("catalog", "shared-kernel"),
        ("orders & pay", "shared-kernel"),
    }
