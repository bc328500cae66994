"""Never a crash: every literal Python allows is read, and an analyzer bug while reading one
file, one setting or linking one file's facts is a warning naming it; the analysis goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libcst as cst

import analyzer.extract as extract_module
import analyzer.settings_reader as settings_reader
from analyzer.contract import write_analysis
from analyzer.decompose import decompose
from analyzer.discover import discover
from analyzer.facts import FileFacts
from analyzer.pipeline import analyze, link_guarded

from .conftest import FIXTURES

FIGKIT = Path(sys.executable).with_name("figkit")
OCTAL = FIXTURES / "crash_octal_settings"
BUG = "analyzer bug while reading"


def _project(root: Path, files: dict[str, str | bytes]) -> Path:
    base = {
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cfg.settings')\n",
        "cfg/__init__.py": "",
        "cfg/settings.py": "INSTALLED_APPS = ['things']\nROOT_URLCONF = 'cfg.urls'\n",
        "cfg/urls.py": "urlpatterns = []\n",
        "things/__init__.py": "",
        "things/models.py": "from django.db import models\n\n\nclass Thing(models.Model):\n"
        "    name = models.CharField(max_length=5)\n",
    }
    for rel, content in {**base, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_octal_permissions_in_settings_no_longer_stop_figkit_analyze(tmp_path):
    run = subprocess.run(
        [FIGKIT, "analyze", OCTAL, "--no-cache", "--out", tmp_path, "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "warning" not in run.stderr


def test_every_literal_form_in_settings_is_read():
    values = discover(OCTAL).settings_values
    assert values["FILE_UPLOAD_PERMISSIONS"] == 0o644
    assert (values["MAGIC"], values["FLAGS"], values["DATA_UPLOAD_MAX_MEMORY_SIZE"]) == (
        31,
        5,
        10**7,
    )
    assert (values["RATIO"], values["COMPLEX"], values["NEGATIVE"]) == (1000.0, 1j, -1)
    assert (values["SECRET_KEY"], values["PREFIX"], values["GREETING"]) == (
        "abcdef",
        b"bytes",
        "hello 31",
    )
    assert values["ADMINS"] == [("Ann", "ann@example.com")]
    assert values["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert values["ROOT_URLCONF"] == "proj.urls"  # parenthesised implicit concatenation
    assert [r.pattern for r in analyze(OCTAL, jobs=1).routes] == [""]


def test_unknown_fstring_in_a_wanted_setting_is_a_warning(tmp_path):
    root = _project(tmp_path, {"cfg/settings.py": "import os\nINSTALLED_APPS = ['things']\n"
                               "ROOT_URLCONF = f\"{os.environ['X']}.urls\"\n"})  # fmt: skip
    project = discover(root)
    assert project.root_urlconf is None
    assert [(w.line, w.message) for w in project.warnings if w.file == "cfg/settings.py"] == [
        (3, "ROOT_URLCONF = cannot be read statically")
    ]


def test_a_bug_on_one_settings_statement_is_a_warning_and_the_next_is_read(tmp_path, monkeypatch):
    def buggy(node, evaluate=None):  # stands in for a bug in the literal reader
        if isinstance(node, cst.Integer) and node.value == "13":
            raise KeyError("boom")
        return literal_value(node, evaluate)

    literal_value = settings_reader.literal_value
    monkeypatch.setattr(settings_reader, "literal_value", buggy)
    root = _project(tmp_path, {"cfg/settings.py": "X = 13\nINSTALLED_APPS = ['things']\n"})
    project = discover(root)
    assert project.installed_apps == ["things"]
    [warning] = [w for w in project.warnings if BUG in w.message]
    assert (warning.file, warning.line) == ("cfg/settings.py", 1)
    assert warning.message.startswith(f"{BUG} setting X: KeyError: 'boom'; please report")


def test_a_bug_while_reading_one_file_is_a_warning_and_the_traceback_goes_to_the_debug_log(
    tmp_path, monkeypatch
):
    class Buggy:  # stands in for a listener with a bug
        def __init__(self, ctx):
            pass

        def visit_FunctionDef(self, node):
            raise ValueError("listener bug")

    monkeypatch.setattr(extract_module, "LISTENERS", (*extract_module.LISTENERS, Buggy))
    log = tmp_path / "debug.log"
    monkeypatch.setenv("FIGKIT_DEBUG_LOG", str(log))
    root = _project(
        tmp_path / "p", {"things/views.py": "import os\n\n\ndef index(request):\n    pass\n"}
    )
    analysis = analyze(root, jobs=1)
    [warning] = [w for w in analysis.warnings if BUG in w.message]
    assert (warning.file, warning.line) == ("things/views.py", 4)
    assert "ValueError: listener bug; please report" in warning.message
    assert [m.label for m in analysis.models] == ["things.Thing"]
    assert "Traceback" in log.read_text() and "listener bug" in log.read_text()


def test_a_bug_while_linking_one_file_leaves_its_facts_out(tmp_path):
    root = _project(tmp_path, {"things/other.py": "X = 1\n"})
    project = discover(root)
    files = [extract_module.extract((root / s.path).read_bytes(), s.path, s.module, s.is_package)
             for s in project.files]  # fmt: skip
    damaged = FileFacts(path="things/other.py", module="things.other")
    damaged.classes = [None]  # type: ignore[list-item]  # facts no extractor writes
    files = [damaged if f.path == "things/other.py" else f for f in files]
    analysis = link_guarded(project, files)
    assert [m.label for m in analysis.models] == ["things.Thing"]
    [warning] = [w for w in analysis.warnings if BUG in w.message]
    assert warning.file == "things/other.py" and "AttributeError" in warning.message


def test_deep_nesting_is_a_warning_not_a_segfault(tmp_path):
    """libcst's native parser segfaults from about 1,300 nested parentheses."""
    root = _project(tmp_path, {
        "things/parens.py": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        "things/lists.py": "x = " + "[" * 300 + "]" * 300 + "\n",
    })  # fmt: skip
    # in a child process, so that a native crash fails this test instead of the whole run
    code = ("import sys; from pathlib import Path; from analyzer.pipeline import analyze; "
            "a = analyze(Path(sys.argv[1]), jobs=1); "
            "print('\\n'.join(f'{w.file}: {w.message}' for w in a.warnings))")  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", code, root], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "things/parens.py: nests too deeply to parse; skipped" in run.stdout
    assert "things/lists.py: nests too deeply to parse; skipped" in run.stdout


def test_strings_python_refuses_are_warnings_not_crashes(tmp_path):
    root = _project(tmp_path, {
        "things/mixed.py": 'x = "text" b"bytes"\n',
        "cfg/urls.py": 'from django.urls import path\nfrom things.views import v\n'
                       'urlpatterns = [path("\\x", v), path("ok/", v)]\n',
        "things/views.py": "def v(request):\n    pass\n",
    })  # fmt: skip
    analysis = analyze(root, jobs=1)
    messages = {w.file: w.message for w in analysis.warnings}
    assert messages["things/mixed.py"].startswith("does not parse")
    assert "ok/" in [r.pattern for r in analysis.routes]
    assert not [w for w in analysis.warnings if BUG in w.message]


def test_a_damaged_fact_cache_is_set_aside_and_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "facts.sqlite").write_bytes(b"not a database" * 100)
    first = analyze(OCTAL, jobs=1, cache_dir=cache)
    assert (cache / "facts.sqlite.damaged").exists()
    second = analyze(OCTAL, jobs=1, cache_dir=cache)
    assert second.stats["files_cached"] == first.stats["files"] == first.stats["files_read"]


def test_a_cache_folder_that_cannot_be_made_is_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    analysis = analyze(OCTAL, jobs=1, cache_dir=blocker / "cache")
    assert any("fact cache" in w.message for w in analysis.warnings)
    assert [m.label for m in analysis.models] == ["things.Thing"]


def test_file_and_folder_names_that_are_not_utf8_are_warnings(tmp_path):
    root = _project(tmp_path, {})
    (root / "things" / b"caf\xe9.py".decode("utf-8", "surrogateescape")).write_text("x = 1\n")
    bad_folder = root / b"\xff".decode("utf-8", "surrogateescape")
    bad_folder.mkdir()
    (bad_folder / "__init__.py").write_text("")
    run = subprocess.run(
        [FIGKIT, "analyze", root, "--no-cache", "--out", tmp_path / "out", "--format", "json,md"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "things/caf\ufffd.py: file name is not UTF-8; skipped" in run.stderr
    assert "\ufffd: folder name is not UTF-8; skipped" in run.stderr


def test_installed_apps_and_urlconf_that_name_no_module_are_warnings(tmp_path):
    """Found by the property suite: an empty app label broke analysis.json's schema."""
    settings_text = (
        "INSTALLED_APPS = ['things', '', 'a..b', 3]\nROOT_URLCONF = ''\nAUTH_USER_MODEL = 'x'\n"
    )
    root = _project(tmp_path / "p", {"cfg/settings.py": settings_text})
    analysis = analyze(root, jobs=1)
    messages = {w.message for w in analysis.warnings if w.file == "cfg/settings.py"}
    assert "INSTALLED_APPS entries that name no module are left out: '', 'a..b', 3" in messages
    assert "ROOT_URLCONF '' names no module" in messages
    assert "AUTH_USER_MODEL 'x' is not 'app_label.ModelName'; auth.User is assumed" in messages
    assert [a.label for a in analysis.apps] == ["things"]
    write_analysis(decompose(analysis.to_json()), tmp_path / "out")  # validates the schema


def test_a_worker_process_that_dies_costs_only_its_file(tmp_path, monkeypatch):
    """With the depth check off, libcst's native parser overflows its stack in the worker
    (a segfault, no exception): the other files are read again one by one."""
    monkeypatch.setattr("analyzer.extract.parse.SUSPECT_DEPTH", 10**9)  # forked workers too
    monkeypatch.setattr("analyzer.extract.parse.SUSPECT_BYTES", 10**9)
    many = {f"things/m{i}.py": f"X{i} = {i}\n" for i in range(30)}
    root = _project(tmp_path, {**many, "things/deep.py": "x = " + "(" * 200_000 + ")" * 200_000})
    analysis = analyze(root, jobs=2)
    messages = {w.file: w.message for w in analysis.warnings}
    assert messages["things/deep.py"] == "crashed the parser (its process died); skipped"
    assert [m.label for m in analysis.models] == ["things.Thing"]
    assert analysis.stats["files_read"] == analysis.stats["files"]
