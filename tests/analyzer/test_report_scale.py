"""report.html at real scale, in headless Chromium: a generated analysis of 40 apps and 2,000
edges opens at service level and stays readable (at most about 60 nodes on the first screen),
the legend gives every service its own colour, the threshold and the import switch hide edges,
and the coupling matrix lists the evidence of a cut cell. Screenshots go to var/test-artifacts/.
"""

from __future__ import annotations

import colorsys
import itertools
import random
import re

import pytest

from analyzer.counts import count
from analyzer.decompose import decompose
from analyzer.decompose.boundaries import services_json
from analyzer.decompose.coupling import from_analysis
from analyzer.edge_kinds import EDGE_KINDS
from tests.analyzer.test_report_browser import ARTIFACTS, browser, open_report, wait_until

__all__ = ["browser"]  # the Chromium fixture, shared with the other browser tests

APPS, EDGES, DOMAINS = 40, 2000, 10
MODELS = [f"Thing{k}" for k in range(5)]
MODULES = [
    "",
    ".models",
    ".views",
    ".services",
    ".tasks",
    ".signals",
    ".api.views",
    ".api.serializers",
]
MODEL_KINDS = ["fk", "orm_read", "orm_write", "join", "atomic", "signal"]  # module/model -> model
MODULE_KINDS = ["import", "task"]  # module -> module


def generated_analysis(
    apps: int = APPS, edges: int = EDGES, domains: int = DOMAINS, seed: int = 7
) -> dict:
    """An analysis.json of `apps` apps in `domains` domains: most edges stay inside a domain."""
    rng = random.Random(seed)
    labels = [f"app{i:02d}" for i in range(apps)]
    domain = {label: i % domains for i, label in enumerate(labels)}
    models = [{"label": f"{a}.{m}", "app": a, "name": m, "file": f"{a}/models.py", "table": f"{a}_{m.lower()}",
               "fields": [], "abstract": False} for a in labels for m in MODELS]  # fmt: skip
    out: dict[tuple[str, str, str], dict] = {}
    while len(out) < edges:
        a = rng.choice(labels)
        peers = [b for b in labels if b != a and (domain[b] == domain[a]) == (rng.random() < 0.8)]
        b = rng.choice(peers)
        kind = rng.choice(MODEL_KINDS + MODULE_KINDS)
        if kind in MODULE_KINDS:
            source, target = a + rng.choice(MODULES[2:]), b + rng.choice(MODULES)
        else:
            source = f"{a}.{rng.choice(MODELS)}" if kind == "fk" else a + rng.choice(MODULES[2:])
            target = f"{b}.{rng.choice(MODELS)}"
        file = source.replace(".", "/") + ".py" if kind != "fk" else f"{a}/models.py"
        places = rng.randint(1, 6)
        out.setdefault((source, target, kind), {
            "source": source, "target": target, "source_app": a, "target_app": b, "kind": kind, "weight": places,
            "evidence": [{"file": file, "line": rng.randint(1, 400)} for _ in range(places)]})  # fmt: skip
    return {
        "schema_version": 1, "project": {"root": "/generated/forty"}, "tool": {"version": "test"},
        "apps": [{"label": a, "name": a, "path": a, "external": False, "models": [f"{a}.{m}" for m in MODELS],
                  "modules": [a + m for m in MODULES]} for a in labels],
        "models": models, "routes": [], "warnings": [], "edges": list(out.values()),
    }  # fmt: skip


@pytest.fixture(scope="module")
def forty() -> dict:
    return decompose(generated_analysis())


def one_service_per_app(document: dict) -> dict:
    """The same analysis split into one service per app: 40 services for the legend."""
    coupling = from_analysis(document)
    assignment = {e.id: e.app for e in coupling.elements.values()}
    return {**document, "services": services_json(coupling, assignment, set())}


def test_the_generator_makes_40_apps_and_2000_edges_of_every_kind_it_names():
    doc = generated_analysis()
    assert len(doc["apps"]) == APPS and len(doc["edges"]) == EDGES
    assert {e["kind"] for e in doc["edges"]} == set(MODEL_KINDS + MODULE_KINDS) <= set(EDGE_KINDS)


def test_the_first_screen_of_40_apps_and_2000_edges_shows_services_and_counts(
    browser, tmp_path, forty
):
    page, problems = open_report(browser, tmp_path, forty)
    nodes = page.evaluate("window.figkit.network.body.data.nodes.getIds()")
    assert 1 < len(nodes) <= 60, len(nodes)
    assert all(n.startswith("svc:") for n in nodes)
    assert sorted(n[4:] for n in nodes) == sorted(s["name"] for s in forty["services"])
    widths = page.evaluate("window.figkit.network.body.data.edges.get().map((e) => e.width)")
    assert len(set(widths)) > 1, "edge width should follow the edge's weight"
    wait_until(page, "window.figkit.settled === true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-scale-graph.png"))
    header = page.locator("header").inner_text()
    for name, c in count(forty).items():
        assert f"{c.n} {name}" in header
    page.locator("header summary").click()
    assert all(c.what in page.locator("header").inner_text() for _, c in count(forty).items())
    first = forty["services"][0]["name"]
    page.locator(f"#legend button[data-service='{first}']").click()
    opened = len(forty["services"]) - 1 + len(forty["services"][0]["apps"])
    wait_until(page, f"window.figkit.nodes == {opened}")
    assert problems == []


def rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])  # type: ignore[return-value]


def test_the_legend_names_every_service_of_40_with_a_distinct_colour(browser, tmp_path, forty):
    document = one_service_per_app(forty)
    document["services"][-1] = {
        **document["services"][-1],
        "kind": "shared_kernel",
        "note": "framework code",
    }
    page, problems = open_report(browser, tmp_path, document)
    items = page.locator("#legend button.legend-item")
    assert items.count() == len(document["services"]) == APPS
    names = items.evaluate_all("(bs) => bs.map((b) => b.dataset.service)")
    assert names == [s["name"] for s in document["services"]]
    colours = items.evaluate_all(
        "(bs) => bs.map((b) => getComputedStyle(b.querySelector('.swatch')).backgroundColor)"
    )
    own = [rgb(c) for c in colours[:-1]]
    assert len(set(own)) == len(own), "a colour is used twice"
    closest = min(
        sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        for a, b in itertools.combinations(own, 2)
    )
    assert closest > 25, f"two services' colours are only {closest:.0f} apart in RGB"
    hues = sorted(colorsys.rgb_to_hls(*(v / 255 for v in c))[0] for c in own)
    assert max(hues) - min(hues) > 0.8, "hues should spread round the wheel"
    kernel = rgb(colours[-1])
    assert kernel[0] == kernel[1] == kernel[2], "the shared kernel is grey"
    assert "shared library" in items.last.inner_text()
    node = page.evaluate(
        "(id) => window.figkit.network.body.data.nodes.get(id)", "svc:" + names[-1]
    )
    assert node["shape"] == "square" and "shared library" in node["label"]
    assert problems == []


def test_import_edges_are_hidden_until_turned_on(browser, tmp_path, forty):
    page, problems = open_report(browser, tmp_path, forty)
    box = page.locator("input[data-kind=import]")
    assert not box.is_checked()
    assert "import" not in page.evaluate("window.figkit.kinds")
    box.check()
    assert "import" in page.evaluate("window.figkit.kinds")
    box.uncheck()
    assert "import" not in page.evaluate("window.figkit.kinds")
    assert problems == []


def drawn_weights(page) -> list[float]:
    return page.evaluate(
        "window.figkit.network.body.data.edges.get().map((e) => window.figkit.weightOf(e.id))"
    )


def test_the_threshold_hides_edges_lighter_than_it(browser, tmp_path, forty):
    page, problems = open_report(browser, tmp_path, one_service_per_app(forty))
    nodes, links = page.evaluate("window.figkit.nodes"), page.evaluate("window.figkit.links")
    assert nodes == APPS
    assert page.locator("input[data-threshold=auto]").is_checked()
    assert page.evaluate("window.figkit.edges") == 2 * nodes < links, (
        "auto shows the heaviest edges"
    )
    page.locator("input[data-threshold=auto]").uncheck()
    assert page.evaluate("window.figkit.edges") == links
    weights = sorted(drawn_weights(page))
    middle = weights[len(weights) // 2]
    page.locator("input[data-threshold=number]").fill(str(middle))
    assert (
        page.evaluate("window.figkit.edges")
        == sum(1 for w in weights if w >= middle)
        < len(weights)
    )
    assert min(drawn_weights(page)) >= middle
    page.locator("input[data-threshold=number]").fill(str(weights[-1] + 1))
    assert page.evaluate("window.figkit.edges") == 0
    slider = page.locator("input[data-threshold=slider]")
    slider.evaluate("(s) => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    assert page.evaluate("window.figkit.edges") == len(weights)
    slider.evaluate("(s) => { s.value = 700; s.dispatchEvent(new Event('input')); }")
    assert 0 < page.evaluate("window.figkit.edges") < len(weights)
    assert float(page.locator("input[data-threshold=number]").input_value()) > 0
    assert f"of {links} edges shown" in page.locator("fieldset.threshold").inner_text()
    assert problems == []


def test_the_matrix_orders_apps_by_service_and_a_cut_cell_lists_its_evidence(
    browser, tmp_path, forty
):
    page, problems = open_report(browser, tmp_path, forty)
    page.get_by_role("link", name="Matrix").click()
    rows = page.locator("table.dsm th.row").all_inner_texts()
    assert len(rows) == APPS
    service_of = {a: s["name"] for s in forty["services"] for a in s["apps"]}
    order = [service_of[r.split(". ", 1)[1]] for r in rows]
    assert order == sorted(order, key=[s["name"] for s in forty["services"]].index), (
        "apps are grouped by service"
    )
    assert page.locator("table.dsm td.ot").count() > 0, "service blocks are outlined"
    cut = page.locator("table.dsm td.cut").first
    source, target = cut.get_attribute("data-from"), cut.get_attribute("data-to")
    assert service_of[source] != service_of[target]
    cut.click()
    text = page.locator("#matrix-details").inner_text()
    assert "Cut:" in text and f"{source} → {target}" in text
    places = {f"{ev['file']}:{ev['line']}" for e in forty["edges"] if e["source_app"] == source
              and e["target_app"] == target and e["kind"] != "import" for ev in e["evidence"]}  # fmt: skip
    shown = set(re.findall(r"\S+\.py:\d+", text))
    assert shown and shown <= places
    inside = page.locator("table.dsm td.inside").first
    inside.click()
    assert "Inside service" in page.locator("#matrix-details").inner_text()
    page.screenshot(path=str(ARTIFACTS / "report-scale-matrix.png"), full_page=True)
    assert problems == []
