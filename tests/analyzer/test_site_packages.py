"""Relations declared on libraries' abstract models reach the project's concrete models when
the library's source can be read (--site-packages, or the running environment); otherwise one
warning per base says what is unknown and how to fix it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from analyzer.pipeline import analyze

from .conftest import FIXTURES, line_of

PROJECT = FIXTURES / "sitepackages_project"
SITE = FIXTURES / "sitepackages_libs" / "site-packages"
FIGKIT = Path(sys.executable).with_name("figkit")


def _relations(analysis) -> dict[tuple[str, str], list[dict]]:
    return {
        (e.source, e.target): e.evidence for e in analysis.edges if e.kind in ("fk", "o2o", "m2m")
    }


def test_relations_of_library_abstract_bases_are_inherited_with_site_packages():
    analysis = analyze(PROJECT, jobs=1, site_packages=(SITE,))
    relations = _relations(analysis)
    line = line_of(PROJECT, "notes/models.py", "class NoteTag(")
    assert relations[("notes.NoteTag", "fake_taglib.Tag")] == [
        {"file": "notes/models.py", "line": line, "field": "tag", "on_delete": "CASCADE"}
    ]
    assert ("notes.AnyTag", "contenttypes.ContentType") in relations  # base of a base
    assert ("notes.Folder", "notes.Folder") in relations  # "self" on the base is the child
    assert ("notes.Category", "notes.Category") in relations  # re-exported, star-imported
    assert not [w for w in analysis.warnings if "abstract base" in w.message]


def test_library_models_are_external_and_abstract_bases_are_not_models():
    analysis = analyze(PROJECT, jobs=1, site_packages=(SITE,))
    models = {m.label: m for m in analysis.models}
    assert models["fake_taglib.Tag"].external
    assert models["fake_taglib.Tag"].file is None
    assert "fake_taglib.TaggedItemBase" not in models
    assert all(not m.external for label, m in models.items() if label.startswith("notes."))
    assert not any(e.source.startswith("fake_") for e in analysis.edges)  # library code adds none


def test_without_the_library_each_base_is_one_warning_naming_its_package():
    analysis = analyze(PROJECT, jobs=1)
    unknown = sorted(w.message for w in analysis.warnings if "abstract base" in w.message)
    assert unknown == [
        f"fields of abstract base {base} (package {base.split('.')[0]}) are unknown; pass "
        f"--site-packages DIR of an environment that has {base.split('.')[0]}"
        for base in sorted([
            "fake_taglib.models.GenericTaggedItemBase", "fake_taglib.models.TaggedItemBase",
            "fake_treelib.models.MPTTModel", "fake_treelib.models.TreeNodeModel",
        ])
    ]  # fmt: skip
    assert ("notes.NoteTag", "fake_taglib.Tag") not in _relations(analysis)


def test_library_found_in_the_running_environment(monkeypatch):
    monkeypatch.syspath_prepend(str(SITE))
    relations = _relations(analyze(PROJECT, jobs=1))
    assert ("notes.NoteTag", "fake_taglib.Tag") in relations
    assert "fake_taglib" not in sys.modules  # located, never imported


def test_site_packages_in_the_project_config(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "figkit.toml").write_text(f"site_packages = [{str(SITE)!r}]\n")
    run = subprocess.run(
        [FIGKIT, "analyze", project, "--no-cache", "--out", tmp_path / "out", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "abstract base" not in run.stderr
    document = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert any(e["target"] == "fake_taglib.Tag" for e in document["edges"])


def test_site_packages_option_and_a_missing_folder(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(
        [FIGKIT, "analyze", PROJECT, "--no-cache", "--out", out, "--format", "json",
         "--site-packages", SITE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "abstract base" not in run.stderr
    run = subprocess.run(
        [FIGKIT, "analyze", PROJECT, "--no-cache", "--out", out, "--site-packages", tmp_path / "nope"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "is not a folder" in run.stderr


def test_only_the_modules_defining_the_bases_are_read_and_they_are_cached(tmp_path):
    first = analyze(PROJECT, jobs=1, cache_dir=tmp_path, site_packages=(SITE,))
    with sqlite3.connect(tmp_path / "facts.sqlite") as db:
        rows = db.execute("SELECT count(*) FROM facts").fetchone()[0]
    # fake_taglib.models, fake_treelib.models and the nodes module it star-imports; not
    # fake_treelib.fields (a field class is no base) nor any package __init__
    assert rows == first.stats["files"] + 3
    second = analyze(PROJECT, jobs=1, cache_dir=tmp_path, site_packages=(SITE,))
    assert _relations(second) == _relations(first)


def test_a_base_the_installed_library_builds_at_run_time_is_named_as_such():
    dynamic = FIXTURES / "sitepackages_dynamic" / "site-packages"
    analysis = analyze(PROJECT, jobs=1, site_packages=(dynamic, SITE))
    unknown = [w.message for w in analysis.warnings if "abstract base" in w.message]
    assert unknown == [
        f"fields of abstract base fake_taglib.models.{name} (package fake_taglib) are unknown: "
        "fake_taglib is installed but its source does not define the class statically"
        for name in ("GenericTaggedItemBase", "TaggedItemBase")
    ]
    assert ("notes.Folder", "notes.Folder") in _relations(analysis)  # fake_treelib from SITE
