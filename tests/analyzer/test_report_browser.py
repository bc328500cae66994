"""report.html in headless Chromium (Debian's chromium, driven by Playwright): it draws services,
opens a service into its apps and an app into its modules on a click, shows evidence, logs no
error, and injected names stay text. tests/analyzer/test_report_scale.py tries it at 40 apps."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from analyzer.decompose import decompose
from analyzer.decompose.outputs import score
from analyzer.decompose.plan import PLAN_LISTS
from analyzer.report import html as html_report
from tests import services
from tests.analyzer.test_reports import EVIL, poisoned

CHROMIUM = os.environ.get("FIGKIT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (or set FIGKIT_CHROMIUM)"
        if services.under_ci():
            pytest.fail(reason + " (CI=true: browser tests may not skip)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_report(browser, tmp_path: Path, document: dict):
    path = tmp_path / "report.html"
    path.write_text(html_report.render(document))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.as_uri())
    wait_until(page, "!!(window.figkit && window.figkit.network)")
    return page, problems


def wait_until(page, expression: str, seconds: float = 30) -> None:
    """Poll from Python: the page's CSP forbids the eval that wait_for_function needs."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {expression}")
        time.sleep(0.05)


def click_node(page, node_id: str) -> None:
    """Click a node once the layout has settled (the page fits the view when it does)."""
    wait_until(page, "window.figkit.settled === true")
    point = page.evaluate(
        "(id) => { const n = window.figkit.network; return n.canvasToDOM(n.getPositions([id])[id]); }",
        node_id,
    )
    box = page.locator("#network").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def service_of(document: dict, app: str) -> dict:
    return next(s for s in document["services"] if app in s["apps"])


def test_the_report_draws_services_opens_one_into_apps_and_an_app_into_modules(
    browser, tmp_path, monolith
):
    document = decompose(monolith.doc)
    page, problems = open_report(browser, tmp_path, document)
    services = [s for s in document["services"] if s["apps"]]
    assert page.evaluate("window.figkit.nodes") == len(services)
    shop = service_of(document, "catalog")
    click_node(page, "svc:" + shop["name"])
    at_apps = len(services) - 1 + len(shop["apps"])
    wait_until(page, f"window.figkit.nodes == {at_apps}")
    assert shop["name"] in page.locator("#details").inner_text()
    click_node(page, "app:catalog")
    wait_until(page, f"window.figkit.nodes > {at_apps}")
    catalog = next(a for a in document["apps"] if a["label"] == "catalog")
    opened = len(catalog["models"]) + len(catalog["modules"])
    assert page.evaluate("window.figkit.nodes") == at_apps - 1 + opened
    click_node(page, "el:catalog.Product")
    details = page.locator("#details")
    details.get_by_text("catalog.Product").first.wait_for()
    assert "catalog/models.py:" in details.inner_text()
    for tab in ("Matrix", "Services", "Metrics", "Plan", "Cycles", "Warnings"):
        page.get_by_role("link", name=tab).click()
    page.get_by_role("link", name="Metrics").click()
    wins, losses, total = score(document["metrics"])
    assert f"wins {len(wins)}" in page.locator("#section-metrics p.verdict").inner_text()
    page.get_by_role("link", name="Plan").click()
    tasks = sum(bool(step["routes"]) + bool(step["tables"]) + sum(len(step[key]) for key in PLAN_LISTS)
                for step in document["plan"])  # fmt: skip
    assert page.locator("#section-plan input[type=checkbox]").count() == tasks
    page.get_by_role("link", name="Graph").click()
    page.get_by_role("button", name="close all").click()
    assert page.evaluate("window.figkit.nodes") == len(services)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-legacy-monolith.png"))
    assert problems == []


def test_a_name_made_to_inject_script_shows_as_text(browser, tmp_path, monolith):
    page, problems = open_report(browser, tmp_path, poisoned(monolith.doc))
    page.get_by_role("link", name="Warnings").click()
    assert EVIL in page.locator("#section-warnings").inner_text()
    page.get_by_role("link", name="Services").click()
    page.locator("#section-services details").first.click()
    assert (
        page.evaluate("document.querySelectorAll('script').length") == 3
    )  # data, vis-network, the page's own
    assert problems == []


def test_filters_show_import_edges_on_demand_and_hide_apps(browser, tmp_path, monolith):
    document = decompose(monolith.doc)
    page, problems = open_report(browser, tmp_path, document)
    for service in document["services"]:
        page.evaluate("(name) => window.figkit.openService(name)", service["name"])
    page.locator("input[data-threshold=auto]").uncheck()
    edges = page.evaluate("window.figkit.edges")
    assert "import" not in page.evaluate("window.figkit.kinds")
    page.locator("input[data-kind=import]").check()
    assert page.evaluate("window.figkit.edges") > edges
    assert "import" in page.evaluate("window.figkit.kinds")
    nodes = page.evaluate("window.figkit.nodes")
    page.locator("details.apps summary").click()
    page.locator("input[data-app=core]").uncheck()
    assert page.evaluate("window.figkit.nodes") == nodes - 1
    assert problems == []


def test_saleor_sized_graphs_stay_responsive(browser, tmp_path):
    """A generated analysis with 4,000 modules: the page opens at service level and an app opens fast."""
    apps, modules_per_app = 40, 100
    doc = {"schema_version": 1, "project": {"root": "big"}, "tool": {}, "routes": [], "warnings": [], "models": [],
           "apps": [{"label": f"app{i}", "name": f"app{i}", "path": f"app{i}", "external": False, "models": [],
                     "modules": [f"app{i}.m{j}" for j in range(modules_per_app)]} for i in range(apps)],
           "edges": [{"source": f"app{i}.m{j}", "target": f"app{(i + j) % apps}.m{(j * 7) % modules_per_app}", "source_app": f"app{i}",
                      "target_app": f"app{(i + j) % apps}", "kind": "import", "weight": 1, "evidence": [{"file": "x.py", "line": j}]}
                     for i in range(apps) for j in range(modules_per_app)]}  # fmt: skip
    document = decompose(doc)
    page, problems = open_report(browser, tmp_path, document)
    assert page.evaluate("window.figkit.nodes") == len(document["services"])
    took = page.evaluate(
        "() => { const t = performance.now(); window.figkit.expand('app3'); return performance.now() - t; }"
    )
    in_service = len(service_of(document, "app3")["apps"])
    expected = len(document["services"]) - 1 + in_service - 1 + modules_per_app
    assert page.evaluate("window.figkit.nodes") == expected
    assert took < 2000, f"opening an app of 100 modules took {took:.0f} ms"
    assert problems == []


def test_a_big_app_opens_into_its_subpackages_first(browser, tmp_path):
    modules = (
        [f"big.api.m{j}" for j in range(30)]
        + [f"big.core.m{j}" for j in range(30)]
        + ["big.models", "big"]
    )
    doc = {"schema_version": 1, "project": {"root": "p"}, "tool": {}, "routes": [], "warnings": [], "models": [],
           "apps": [{"label": "big", "name": "big", "path": "big", "external": False, "models": [], "modules": modules},
                    {"label": "small", "name": "small", "path": "small", "external": False, "models": [], "modules": ["small.views"]}],
           "edges": [{"source": "small.views", "target": m, "source_app": "small", "target_app": "big", "kind": "import",
                      "weight": 1, "evidence": [{"file": "small/views.py", "line": i + 1}]} for i, m in enumerate(modules)]}  # fmt: skip
    page, problems = open_report(browser, tmp_path, decompose(doc))
    page.evaluate("window.figkit.expand('big')")
    assert page.evaluate("window.figkit.nodes") == 1 + 4  # small; api/, core/, models.py, __init__
    click_node(page, "grp:big/api")
    wait_until(page, "window.figkit.nodes == 1 + 3 + 30")
    assert "big/api" in page.locator("#details").inner_text()
    assert problems == []


def test_an_empty_note_leaves_no_trace_in_any_tab(browser, tmp_path, monolith):
    """DOM append writes a missing paragraph as the text "null": the page must not."""
    document = decompose(monolith.doc)
    document["metrics"]["note"] = ""
    for service in document["services"]:
        service.pop("note", None)
    page, problems = open_report(browser, tmp_path, document)
    for tab in ("Services", "Metrics", "Plan", "Cycles", "Warnings", "Matrix"):
        page.get_by_role("link", name=tab).click()
        text = page.locator(f"#section-{tab.lower()}").inner_text()
        assert "null" not in text.split() and "undefined" not in text, tab
    assert problems == []
