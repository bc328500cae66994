"""`figkit analyze` as a user runs it: a valid analysis.json, a summary, and a cache that
re-reads only what changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.contract import read_analysis, validate, write_analysis
from analyzer.errors import InvalidAnalysis
from analyzer.pipeline import analyze

FIGKIT = Path(sys.executable).with_name("figkit")
REPO = Path(__file__).resolve().parents[2]
TINYSHOP = Path(__file__).parent / "fixtures" / "tinyshop"


def test_analyze_the_monolith_writes_a_valid_analysis_and_a_summary(tmp_path):
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(REPO / "legacy_monolith"), "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = read_analysis(tmp_path / "report" / "analysis.json")
    assert document["schema_version"] == 1
    counted = "12 apps (8 external not counted), 40 models (1 abstract, 1 proxy not counted)"
    assert f"{counted}, 53 routes" in result.stdout
    for kind in ("import", "fk", "orm_write", "join", "signal", "atomic", "raw_sql", "task"):
        assert kind in result.stdout


def test_second_run_reads_only_the_changed_file(tmp_path):
    project = tmp_path / "tinyshop"
    shutil.copytree(TINYSHOP, project)
    cache = tmp_path / "cache"
    first = analyze(project, jobs=1, cache_dir=cache)
    assert first.stats["files_read"] == first.stats["files"] > 10
    services = project / "orders" / "services.py"
    services.write_text(
        services.read_text()
        + "\n\ndef refund(order_id):\n    Order.objects.filter(pk=order_id).delete()\n"
    )
    second = analyze(project, jobs=1, cache_dir=cache)
    assert second.stats["files_read"] == 1
    assert second.stats["files_cached"] == first.stats["files"] - 1
    writes = {(e.source, e.target): e for e in second.edges if e.kind == "orm_write"}
    assert len(writes[("orders.services", "orders.Order")].evidence) == 2  # the new write is seen
    assert second.to_json()["edges"] != first.to_json()["edges"]


def test_parallel_and_serial_extraction_agree(tmp_path):
    serial = analyze(REPO / "legacy_monolith", jobs=1).to_json()
    parallel = analyze(REPO / "legacy_monolith", jobs=2).to_json()
    assert serial["edges"] == parallel["edges"] and serial["routes"] == parallel["routes"]


def test_a_document_that_breaks_the_schema_is_refused_and_nothing_is_written(tmp_path):
    document = analyze(TINYSHOP, jobs=1).to_json()
    document["edges"][0]["kind"] = "telepathy"
    with pytest.raises(InvalidAnalysis, match="edges"):
        validate(document)
    with pytest.raises(InvalidAnalysis):
        write_analysis(document, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_reading_a_hand_broken_file_says_what_to_do(tmp_path):
    path = tmp_path / "analysis.json"
    path.write_text("{not json")
    with pytest.raises(InvalidAnalysis, match="figkit analyze"):
        read_analysis(path)


def test_include_brings_back_migrations_and_exclude_drops_files(tmp_path):
    default = analyze(TINYSHOP, jobs=1)
    included = analyze(TINYSHOP, jobs=1, include=("*/migrations/*",), exclude=("api/*",))
    assert included.stats["files"] == default.stats["files"] + 2 - 3
    assert json.dumps(included.to_json()).count("orders.migrations") > 0


def test_verify_scores_the_monolith_against_djangos_own_registry_and_resolver(tmp_path):
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(REPO / "legacy_monolith"), "--out", str(tmp_path), "--verify"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "verify.json").read_text())
    assert set(scores) == {"models", "tables", "relations", "routes"}
    for name, figures in scores.items():
        assert figures["django"] > 0, name
        assert (figures["recall"], figures["precision"]) == (1.0, 1.0), (
            name,
            figures["missed"],
            figures["extra"],
        )


def test_verify_without_the_projects_requirements_fails_with_one_line(tmp_path):
    project = tmp_path / "proj"
    (project / "site_cfg").mkdir(parents=True)
    (project / "manage.py").write_text(
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n"
    )
    (project / "site_cfg" / "__init__.py").write_text("")
    (project / "site_cfg" / "settings.py").write_text(
        "import not_installed_anywhere\nINSTALLED_APPS = []\n"
    )
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(project), "--out", str(tmp_path / "out"), "--verify"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert "install the project's requirements" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / "analysis.json").exists()  # the static analysis itself is kept


def test_each_warning_is_said_once_on_stderr_and_counted_on_stdout(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(TINYSHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "orders" / "broken.py").write_text("def oops(:\n")
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(project), "--out", str(tmp_path / "report"), "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "broken.py" in line]
    assert len(said) == 1 and said[0].startswith("warning: orders/broken.py:1:")
    assert "broken.py" not in result.stdout and "warnings: each is on stderr" in result.stdout


def test_a_library_view_mounted_by_an_app_is_served_by_that_app(tmp_path):
    """Django's password views in orders/urls.py: the route is the orders app's to serve."""
    project = tmp_path / "project"
    shutil.copytree(TINYSHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    urls = project / "orders" / "urls.py"
    text = urls.read_text().replace(
        "from . import views\n", "from django.contrib.auth import views as auth_views\n\nfrom . import views\n"
    ).replace(
        '    path("", views.order_list, name="list"),\n',
        '    path("", views.order_list, name="list"),\n'
        '    path("password/", auth_views.PasswordChangeView.as_view(), name="password"),\n',
    )  # fmt: skip
    urls.write_text(text)
    document = analyze(project, jobs=1).to_json()
    route = next(r for r in document["routes"] if r["pattern"] == "orders/password/")
    assert route["view"] == "django.contrib.auth.views.PasswordChangeView"
    assert route["app"] == "orders" and not route.get("external")


def test_a_urlconf_built_at_run_time_is_a_warning_not_a_silent_gap(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(TINYSHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    urls = project / "tinyshop" / "urls.py"
    urls.write_text(
        urls.read_text().replace(
            '    path("api/", include("api.urls")),\n',
            '    path("api/", include("api.urls")),\n'
            '    path("shop/", include(apps.get_app_config("orders").urls[0])),\n',
        )
    )
    document = analyze(project, jobs=1).to_json()
    line = next(n for n, text in enumerate(urls.read_text().splitlines(), 1) if '"shop/"' in text)
    (warning,) = [w for w in document["warnings"] if "shop/" in w["message"]]
    assert (warning["file"], warning["line"]) == ("tinyshop/urls.py", line)
    assert "built at run time" in warning["message"]


def test_settings_names_the_settings_module_to_read_instead_of_manage_pys(tmp_path):
    """Production settings switch a route off that the development ones (manage.py's) keep."""
    project = tmp_path / "project"
    shutil.copytree(TINYSHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "tinyshop" / "production.py").write_text(
        "from tinyshop.settings import *  # noqa\n\nDEBUG = False\n"
    )
    (project / "tinyshop" / "settings.py").write_text(
        (project / "tinyshop" / "settings.py").read_text() + "DEBUG = True\n"
    )
    urls = project / "tinyshop" / "urls.py"
    urls.write_text(
        urls.read_text()
        + "\nfrom django.conf import settings\n\nif settings.DEBUG:\n"
        + '    urlpatterns += [path("debug/", order_views.order_list)]\n'
    )
    default = analyze(project, jobs=1).to_json()
    production = analyze(project, jobs=1, settings="tinyshop.production").to_json()
    assert default["project"]["settings_module"] == "tinyshop.settings"
    assert production["project"]["settings_module"] == "tinyshop.production"
    assert "debug/" in {r["pattern"] for r in default["routes"]}
    assert "debug/" not in {r["pattern"] for r in production["routes"]}
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(project), "--settings", "tinyshop.nowhere",
         "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"figkit analyze: settings module tinyshop.nowhere is not under {project}; pass --settings "
        "with the dotted name of a settings module of the analysed files "
        "(e.g. mysite.settings.production)"
    ]
    assert not (tmp_path / "report" / "analysis.json").exists()


def test_a_model_on_an_unknown_library_base_is_the_projects_and_a_form_set_is_no_model(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(TINYSHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    models = project / "billing" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\nfrom treelib.tree import Node\n\n\nclass AbstractLedger(Node):\n"
        + "    class Meta:\n        abstract = True\n        app_label = 'billing'\n\n\n"
        + "class Ledger(AbstractLedger):\n    name = models.CharField(max_length=20)\n"
    )
    (project / "billing" / "forms.py").write_text(
        "from django.forms.models import BaseModelFormSet\n\n\n"
        "class InvoiceLineFormSet(BaseModelFormSet):\n    pass\n"
    )
    document = analyze(project, jobs=1).to_json()
    ledger = next(m for m in document["models"] if m["label"] == "billing.Ledger")
    assert (ledger["external"], ledger["abstract"], ledger["file"]) == (
        False,
        False,
        "billing/models.py",
    )
    assert not any("FormSet" in m["label"] for m in document["models"])
    (warning,) = [w for w in document["warnings"] if "treelib.tree.Node" in w["message"]]
    assert warning["file"] == "billing/models.py" and "--site-packages" in warning["message"]
