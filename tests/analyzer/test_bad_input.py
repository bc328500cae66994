"""Bad input is data: warnings in analysis.json and on stderr, and the analysis goes on.
Only a path that does not exist or holds no Python stops it, with one line and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.discover import discover
from analyzer.errors import ProjectNotFound
from analyzer.pipeline import analyze

FIGKIT = Path(sys.executable).with_name("figkit")
GOOD_MODEL = "from django.db import models\n\n\nclass Thing(models.Model):\n    name = models.CharField(max_length=5)\n"


def _project(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in {"manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n",
                         "site_cfg/__init__.py": "", "site_cfg/settings.py": "INSTALLED_APPS = ['things']\n",
                         "things/__init__.py": "", "things/models.py": GOOD_MODEL, **files}.items():  # fmt: skip
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def _messages(analysis) -> dict[str, str]:
    return {w.file: w.message for w in analysis.warnings}


def test_python2_file_is_a_warning_and_the_rest_is_analysed(tmp_path):
    root = _project(tmp_path, {"things/old.py": "print 'hello'\nexcept Exception, e:\n"})
    analysis = analyze(root, jobs=1)
    assert "does not parse (Python 2 code?)" in _messages(analysis)["things/old.py"]
    assert [m.label for m in analysis.models] == ["things.Thing"]


def test_syntax_error_names_its_line(tmp_path):
    root = _project(tmp_path, {"things/broken.py": "x = 1\ndef f(:\n    pass\n"})
    warning = next(w for w in analyze(root, jobs=1).warnings if w.file == "things/broken.py")
    assert warning.line == 2 and "does not parse" in warning.message


def test_undecodable_file_is_a_warning(tmp_path):
    root = _project(
        tmp_path, {"things/latin.py": b"# -*- coding: utf-8 -*-\nname = '\xff\xfe caf\xe9'\n"}
    )
    assert "does not" in _messages(analyze(root, jobs=1))["things/latin.py"]


def test_huge_file_is_skipped_with_its_size(tmp_path):
    root = _project(tmp_path, {"things/data.py": "DATA = [" + "1, " * 1_100_000 + "]\n"})
    project = discover(root, max_file_bytes=1_000_000)
    assert any(w.file == "things/data.py" and "limit" in w.message for w in project.warnings)
    assert "things/data.py" not in {f.path for f in project.files}


def test_symlink_loop_is_read_once(tmp_path):
    root = _project(tmp_path, {})
    os.symlink(root / "things", root / "things" / "again")
    analysis = analyze(root, jobs=1)
    assert any("symlink loop" in w.message for w in analysis.warnings)
    assert [m.label for m in analysis.models] == ["things.Thing"]


def test_project_without_settings_finds_apps_by_appconfig_and_models(tmp_path):
    for rel, text in {"shop/__init__.py": "", "shop/models.py": GOOD_MODEL,
                      "crm/__init__.py": "", "crm/apps.py": "from django.apps import AppConfig\n\n\nclass CrmConfig(AppConfig):\n    name = 'crm'\n    label = 'customers'\n",
                      "crm/models.py": "from django.db import models\n\n\nclass Lead(models.Model):\n    pass\n"}.items():  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    analysis = analyze(tmp_path, jobs=1)
    assert {m.label for m in analysis.models} == {"shop.Thing", "customers.Lead"}
    assert any("no Django settings found" in w.message for w in analysis.warnings)


def test_settings_that_compute_installed_apps_fall_back_and_say_so(tmp_path):
    root = _project(
        tmp_path,
        {"site_cfg/settings.py": "import os\nINSTALLED_APPS = os.environ['APPS'].split()\n"},
    )
    analysis = analyze(root, jobs=1)
    assert any("computed at run time" in w.message for w in analysis.warnings)
    assert [m.label for m in analysis.models] == ["things.Thing"]


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_a_path_that_is_not_a_project_is_the_only_fatal_error(tmp_path, make):
    target = tmp_path / "nothing-here"
    if make == "empty":
        target.mkdir()
        (target / "README.md").write_text("no python")
    elif make == "file":
        target.write_text("x = 1\n")
    with pytest.raises(ProjectNotFound):
        discover(target)
    result = subprocess.run([str(FIGKIT), "analyze", str(target), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "figkit analyze:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "analysis.json").exists()


def test_cli_prints_warnings_on_stderr_and_writes_them_to_the_file(tmp_path):
    root = _project(tmp_path / "proj", {"things/broken.py": "def f(:\n"})
    out = tmp_path / "out"
    result = subprocess.run([str(FIGKIT), "analyze", str(root), "--out", str(out), "--jobs", "1"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning: things/broken.py:1: does not parse" in result.stderr
    document = json.loads((out / "analysis.json").read_text())
    assert any(w["file"] == "things/broken.py" for w in document["warnings"])
