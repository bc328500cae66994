"""One vocabulary across outputs: the terminal, report.md and analysis.json count the same things
the same way and say what they count; metric labels show their direction; the verdict on the
metrics comes first; entanglement is defined where it is shown."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from analyzer.contract import validate
from analyzer.counts import count
from analyzer.decompose import decompose
from analyzer.decompose.outputs import METRICS, print_decomposition, verdict
from analyzer.pipeline import analyze
from analyzer.report import markdown

FIXTURES = Path(__file__).parent / "fixtures"
COUNTS = FIXTURES / "counts_abstract_proxy_and_methods"
FIGKIT = Path(sys.executable).with_name("figkit")


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[str, str, dict]:
    """`figkit analyze` on the counts fixture: the terminal's text, report.md, analysis.json."""
    out = tmp_path_factory.mktemp("counts")
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(COUNTS), "--out", str(out), "--format", "md,json", "--no-cache"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return (
        result.stdout,
        (out / "report.md").read_text(),
        json.loads((out / "analysis.json").read_text()),
    )


def _numbers(text: str) -> dict[str, int]:
    """{'apps': 2, 'models': 3, ...} from a counts line."""
    return {noun: int(n) for n, noun in re.findall(r"(\d+) (app|model|route|service)s?\b", text)}


def test_terminal_report_md_and_analysis_json_give_the_same_counts(written):
    terminal, report, document = written
    counts = document["counts"]
    from_json = {name[:-1]: c["count"] for name, c in counts.items()}
    # the fixture: 2 own apps; Item, Order, Person (not the abstract Stamped, not the proxy
    # CheapItem); 3 URL patterns, one of them served by a view with GET, POST and DELETE.
    assert from_json == {"app": 2, "model": 3, "route": 3, "service": 2}
    first_line = terminal.splitlines()[0]
    header = report.split("\n\n")[1]
    assert _numbers(first_line) == from_json == _numbers(header)
    assert "1 abstract, 1 proxy not counted" in first_line and "1 abstract, 1 proxy" in header


def test_each_output_says_what_it_counts(written):
    terminal, report, document = written
    for name, c in document["counts"].items():
        assert c["what"] and f"- {name}: " in report
        assert f"{name}: {c['what']}" in terminal.splitlines()[1]


def test_report_md_service_rows_add_up_to_the_counts(written):
    _, report, document = written
    rows = re.findall(r"^\| (\w+) \| [^|]+ \| (\d+) \| \d+ \| (\d+) \|$", report, re.M)
    assert len(rows) == document["counts"]["services"]["count"]
    assert sum(int(m) for _, m, _ in rows) == document["counts"]["models"]["count"]
    assert sum(int(r) for _, _, r in rows) == document["counts"]["routes"]["count"]


def test_report_md_says_how_many_routes_serve_no_service(written):
    document = copy.deepcopy(written[2])
    assert "serve no service" not in markdown.render(document)
    document["routes"].append(
        {"pattern": "docs/", "view": "lib.views.Docs", "app": None, "name": None}
    )
    assert "1 of the 4 routes serve no service" in markdown.render(document)


def test_analysis_json_counts_pass_the_schema(written):
    document = written[2]
    validate(document)
    bad = copy.deepcopy(document)
    bad["counts"]["routes"]["count"] = -1
    with pytest.raises(Exception, match="counts"):
        validate(bad)


def _document(routes=(), services=(), models=(), apps=()) -> dict:
    return {"apps": list(apps), "models": list(models), "routes": list(routes),
            "services": list(services), "edges": []}  # fmt: skip


def test_a_route_is_one_url_pattern_whatever_its_methods():
    doc = _document(
        routes=[
            {"pattern": "items/", "view": "v.items", "app": "a", "name": None, "methods": ["GET"]},
            {"pattern": "items/", "view": "v.items", "app": "a", "name": None, "methods": ["POST"]},
            {"pattern": "items/<int:pk>/", "view": "v.item", "app": "a", "name": None},
        ]
    )
    assert count(doc).routes.n == 2


def test_external_routes_are_apart_and_conditional_ones_are_said():
    route = {"view": "v", "app": "a", "name": None}
    doc = _document(
        routes=[
            {**route, "pattern": "own/"},
            {**route, "pattern": "beta/", "conditional": "settings.BETA"},
            {**route, "pattern": "accounts/login/", "external": True},
            {**route, "pattern": "accounts/logout/", "external": True},
        ]
    )
    routes = count(doc).routes
    assert (routes.n, routes.as_json()["external"], routes.as_json()["conditional"]) == (2, 2, 1)
    assert routes.aside() == "1 conditional; 2 external not counted"


def test_a_shared_kernel_is_not_counted_as_a_service():
    service = {"apps": [], "models": [], "tables": [], "routes": []}
    doc = _document(
        services=[
            {**service, "name": "orders"},
            {**service, "name": "catalog"},
            {**service, "name": "core", "kind": "shared_kernel"},
        ]
    )
    services = count(doc).services
    assert services.n == 2 and services.as_json()["shared_kernel"] == 1
    assert "2 services (1 shared kernel not counted)" in count(doc).line()


def test_third_party_models_are_not_counted():
    base = {"app": "a", "table": "t", "file": None, "line": None, "parents": []}
    doc = _document(
        models=[
            {**base, "label": "a.Own"},
            {**base, "label": "taggit.Tag", "external": True},
            {**base, "label": "taggit.TagBase", "external": True, "abstract": True},
        ]
    )
    models = count(doc).models
    assert models.n == 1 and models.as_json()["abstract"] == 0


# --- metric names and the verdict --------------------------------------------------------
@pytest.fixture(scope="module")
def shop() -> dict:
    return decompose(analyze(FIXTURES / "tinyshop", jobs=1).to_json())


def _losing(document: dict) -> dict:
    """The document with a suggestion that loses four of the six quality metrics."""
    doc = copy.deepcopy(document)
    s, b = doc["metrics"]["suggested"], doc["metrics"]["per_app"]
    s.update(modularity=0.5, sm=0.05, icp=0.6, ifn=3.0, ned=0.9, bcp=2.0)
    b.update(modularity=0.4, sm=0.1, icp=0.3, ifn=2.0, ned=0.5, bcp=2.5)
    doc["metrics"]["note"] = "Merged services are bigger, which SM and NED count against them."
    return doc


def test_every_metric_with_a_direction_shows_it():
    for key, label, better in METRICS:
        assert label.endswith({"higher": " ↑", "lower": " ↓"}.get(better, key)), label


def test_the_terminal_says_the_verdict_first_then_the_trade_off(shop):
    console = Console(file=io.StringIO(), width=1000)
    print_decomposition(_losing(shop), console)
    lines = console.file.getvalue().splitlines()
    assert lines[0].startswith(
        "The suggested split loses 4 of 6 quality metrics to one service per app"
    )
    assert "wins 2 (modularity ↑, business context purity BCP ↓)" in lines[0]
    assert lines[1].startswith("Merged services are bigger")
    assert "↑ higher is better, ↓ lower is better" in console.file.getvalue()


def test_report_md_says_the_verdict_before_the_services(shop):
    text = markdown.render(_losing(shop))
    section = text.split("## Suggested services", 1)[1]
    assert section.lstrip().startswith("> **The suggested split loses 4 of 6")
    assert section.index("Merged services are bigger") < section.index("| service |")
    assert "| inter-call percentage ICP ↓ | 0.6 | 0.3 | per app |" in text


def test_a_winning_split_leads_with_its_wins(shop):
    doc = _losing(shop)
    doc["metrics"]["suggested"], doc["metrics"]["per_app"] = (
        doc["metrics"]["per_app"], doc["metrics"]["suggested"],
    )  # fmt: skip
    assert verdict(doc["metrics"]).startswith("The suggested split wins 4 of 6 quality metrics")


def test_entanglement_is_defined_where_it_is_shown(shop):
    console = Console(file=io.StringIO(), width=300)
    print_decomposition(shop, console)
    shown = console.file.getvalue()
    assert "entanglement: the weighted coupling that crosses a service's boundary" in shown
    plan = markdown.render(shop).split("## Extraction plan", 1)[1]
    assert "Entanglement: the weighted coupling that crosses" in plan.split("###", 1)[0]
