"""Co-change coupling from git history: code-maat's measure and thresholds, on a repository made for the test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.history import Thresholds, cochange, commits
from analyzer.pipeline import analyze

FIXTURE = Path(__file__).parent / "fixtures" / "twoclusters"
FIGKIT = Path(sys.executable).with_name("figkit")


def test_degree_is_shared_over_mean_revisions():
    changesets = [["a.py", "b.py"]] * 10 + [["a.py"]] * 10 + [["b.py", "c.py"]] * 3
    (pair,) = cochange(changesets, {"a.py", "b.py", "c.py"})
    assert (pair.a, pair.b, pair.shared, pair.revisions_a, pair.revisions_b) == (
        "a.py",
        "b.py",
        10,
        20,
        13,
    )
    assert pair.degree == pytest.approx(10 / 16.5)


def test_thresholds_drop_weak_pairs_and_large_commits():
    big = [f"f{i}.py" for i in range(31)]
    changesets = [["a.py", "b.py"]] * 9 + [big] * 20
    assert (
        cochange(changesets, {"a.py", "b.py", *big}) == []
    )  # 9 shared < 10; the big commits are skipped
    loose = Thresholds(min_revisions=1, min_shared=1, min_degree=0.0)
    assert len(cochange(changesets, {"a.py", "b.py"}, loose)) == 1
    rare = [["a.py", "b.py"]] * 10 + [["a.py"]] * 100
    assert cochange(rare, {"a.py", "b.py"}) == []  # degree 10 / 60 < 30%


def test_commits_parse_git_log_output():
    log = "\x00\n\nbilling/views.py\ninvoices/views.py\n\x00\n\ncatalog/views.py\n"
    assert commits(log) == [["billing/views.py", "invoices/views.py"], ["catalog/views.py"]]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_analyze_with_git_adds_cochange_edges_between_modules(tmp_path):
    root = tmp_path / "twoclusters"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "start")
    for i in range(12):  # billing and catalog views change together, across the cut
        for rel in ("billing/views.py", "catalog/views.py"):
            with (root / rel).open("a") as f:
                f.write(f"\n# change {i}\n")
        git(root, "commit", "-qam", f"change {i}")
    document = analyze(root, jobs=1, git=True).to_json()
    (edge,) = [e for e in document["edges"] if e["kind"] == "cochange"]
    assert {edge["source"], edge["target"]} == {"billing.views", "catalog.views"}
    # 12 changes together, plus the first commit that added every file
    assert edge["weight"] == 13 and edge["evidence"][0]["degree"] == 1.0


def test_git_on_a_folder_without_history_is_one_clear_line(tmp_path):
    root = tmp_path / "twoclusters"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([str(FIGKIT), "analyze", str(root), "--out", str(tmp_path / "out"), "--git"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "has no readable git history" in result.stderr
    assert not (tmp_path / "out" / "analysis.json").exists()
