"""Boundaries, metrics and the extraction plan: on a project whose split is known by construction,
on hand-made graphs whose metrics are worked out by hand, and on the legacy monolith."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.contract import validate
from analyzer.decompose import Options, decompose
from analyzer.decompose.boundaries import suggest
from analyzer.decompose.config import options_from
from analyzer.decompose.coupling import Coupling, Element, from_analysis
from analyzer.decompose.metrics import (
    business_context_purity,
    inter_call_percentage,
    interface_number,
    non_extreme_distribution,
    structural_modularity,
)
from analyzer.decompose.plan import proxy_match
from analyzer.errors import AnalyzerError
from analyzer.pipeline import analyze

FIXTURES = Path(__file__).parent / "fixtures"
BILLING, CATALOG = {"billing", "invoices"}, {"catalog", "stock"}


@pytest.fixture(scope="module")
def twoclusters() -> dict:
    return analyze(FIXTURES / "twoclusters", jobs=1).to_json()


def split(document: dict) -> list[set[str]]:
    return sorted((set(s["apps"]) for s in document["services"]), key=sorted)


def test_the_known_split_is_found_without_being_told_how_many(twoclusters):
    out = decompose(twoclusters)
    assert split(out) == [BILLING, CATALOG]
    assert out["metrics"]["offered"] is True
    assert out["metrics"]["suggested"]["modularity"] > out["metrics"]["per_app"]["modularity"]
    validate(out)


@pytest.mark.parametrize("granularity", ["app", "module", "model"])
def test_each_granularity_keeps_the_clusters_apart(twoclusters, granularity):
    out = decompose(twoclusters, Options(granularity=granularity, services=2))
    for service in out["services"]:
        # Data decides: the models of a service come from one cluster. (A helper module such
        # as catalog.pricing, used only by invoices, may rightly travel with billing.)
        apps = {m.split(".")[0] for m in service["models"]}
        assert apps <= BILLING or apps <= CATALOG, (granularity, service["name"], apps)


def test_the_same_seed_gives_the_same_split(twoclusters):
    a = decompose(twoclusters, Options(granularity="model", seed=7))
    b = decompose(twoclusters, Options(granularity="model", seed=7))
    assert a["services"] == b["services"] and a["plan"] == b["plan"]


def test_pinned_apart_separates_and_the_plan_prices_the_cut(twoclusters):
    out = decompose(twoclusters, Options(services=3, apart=(("billing", "invoices"),)))
    groups = split(out)
    assert not any(g >= BILLING for g in groups)
    step = next(s for s in out["plan"] if {"billing", "invoices"} & set(s["service"].split("-")))
    steps = out["plan"]
    sagas = [s for st in steps for s in st["atomic_to_saga"]]
    assert any(s["evidence"]["file"] == "billing/views.py" for s in sagas), (
        "the charge transaction spans both"
    )
    relations = [r for st in steps for r in st["cut_relations"]]
    assert any(
        r["source"] == "billing.Charge" and r["target"] == "invoices.Invoice" for r in relations
    )
    joins = [j for st in steps for j in st["joins_to_compose"]]
    assert joins and all(j["evidence"][0]["file"] and j["evidence"][0]["line"] for j in joins)
    assert step["order"] >= 1


def test_pinned_together_and_already_extracted(twoclusters):
    out = decompose(twoclusters, Options(together=(("invoices", "catalog"),)))
    assert any({"invoices", "catalog"} <= set(s["apps"]) for s in out["services"])
    out = decompose(twoclusters, Options(extracted={"catalog-svc": ("catalog",)}))
    svc = next(s for s in out["services"] if s["name"] == "catalog-svc")
    assert svc["apps"] == ["catalog"] and svc["extracted"] is True
    assert "catalog-svc" not in [step["service"] for step in out["plan"]]


def test_a_constraint_naming_nothing_is_a_clear_error(twoclusters):
    with pytest.raises(AnalyzerError, match="'billling', which is no app"):
        decompose(twoclusters, Options(together=(("billling", "invoices"),)))


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"granularity": "class"}, "granularity must be"),
        ({"services": 0}, "services must be"),
        ({"together": ["orders"]}, "together is a list of lists"),
        ({"apart": [["a", "b", "c"]]}, "apart is a list of pairs"),
        ({"weights": {"imports": 1}}, "weights.imports is no edge kind"),
        ({"weights": {"import": -1}}, "must be a number >= 0"),
        ({"colour": 1}, "unknown key"),
        ({"roles": "no"}, "roles must be true or false"),
    ],
)
def test_config_mistakes_are_named(config, says):
    with pytest.raises(AnalyzerError, match=None) as info:
        options_from(config)
    assert says in str(info.value)


def test_roles_can_be_turned_off_in_the_config():
    assert options_from({"roles": False}).roles is False and options_from({}).roles is True


def test_weights_from_config_change_the_split(twoclusters):
    heavy_imports = options_from(
        {"weights": {k: 0 for k in ("fk", "o2o", "m2m", "orm_read", "orm_write", "join", "atomic")}}
    )
    out = decompose(twoclusters, heavy_imports)
    assert out["metrics"]["weights"]["fk"] == 0 and out["metrics"]["weights"]["import"] == 1


# --- metrics on a graph small enough to work out by hand --------------------------------
def tiny() -> tuple[Coupling, dict[str, str]]:
    """a1-a2 (2 places), a2-b1 (1 place), b1-b2 (1 place); services A={a1,a2}, B={b1,b2}."""
    elements = {n: Element(n, "module", n[0]) for n in ("a1", "a2", "b1", "b2")}
    edges = [
        {"source": "a1", "target": "a2", "kind": "import", "weight": 2, "evidence": []},
        {"source": "a2", "target": "b1", "kind": "import", "weight": 1, "evidence": []},
        {"source": "b1", "target": "b2", "kind": "import", "weight": 1, "evidence": []},
    ]
    routes = [
        {"pattern": "r1/", "view": "a1.view", "app": "a"},
        {"pattern": "r2/", "view": "b2.view", "app": "b"},
    ]
    coupling = Coupling(elements, edges, {}, {"a": {"name": "a1"}, "b": {"name": "b2"}}, routes)
    return coupling, {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}


def test_structural_modularity_by_hand():
    coupling, assignment = tiny()
    # mu_A = mu_B = 1, N = 2: cohesion (1/4 + 1/4) / 2 = 0.25; sigma_AB = 1: 1 / (2*2*2) = 0.125
    assert structural_modularity(coupling, assignment) == pytest.approx(0.25 - 0.125)


def test_inter_call_percentage_by_hand():
    coupling, assignment = tiny()
    crossing, total = math.log(2), math.log(3) + 2 * math.log(2)
    assert inter_call_percentage(coupling, assignment) == pytest.approx(crossing / total)


def test_interface_number_by_hand():
    coupling, assignment = tiny()
    assert interface_number(coupling, assignment) == pytest.approx(0.5)  # b1 in B, none in A


def test_non_extreme_distribution_by_hand():
    _, assignment = tiny()
    assert non_extreme_distribution(assignment, bounds=(2, 3)) == 0
    assert non_extreme_distribution(assignment, bounds=(3, 20)) == 1


def test_business_context_purity_by_hand():
    coupling, assignment = tiny()
    # r1 reaches a1, a2, b1; r2 reaches b2. A serves only r1 (entropy 0); B: r1 once, r2 once (1 bit).
    assert business_context_purity(coupling, assignment) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("pattern", "match", "exact"),
    [
        ("api/products/<int:pk>/", "/api/products/<int:pk>/", True),
        ("", "/", True),
        ("search/?", "/search/*", False),
        ("backoffice/reports/(?P<kind>[a-z-]+)\\.csv", "/backoffice/reports/<str:kind>.csv", False),
        ("^legacy/old/$", "/legacy/old/", True),
        # Regex groups that read as converters keep the route exact rather than a prefix.
        ("^users/(?P<pk>\\d+)/$", "/users/<int:pk>/", True),
        ("api/(?P<slug>[-\\w]+)\\.json$", "/api/<slug:slug>.json", True),
        ("users/(?P<pk>[^/.]+)/$", "/users/<str:pk>/", False),  # str also takes a dot
        ("files/(?P<rest>.+)$", "/files/<path:rest>", True),
        # A character class without '/' stays in one segment: str (wider, so not exact).
        ("hooks/(?P<slug>[.0-9A-Za-z_\\-]+)/$", "/hooks/<str:slug>/", False),
        # A project's own converter is unknown to the proxy: read as a segment.
        ("ping/<sha1:code>/", "/ping/<str:code>/", False),
        # The proxy takes <path:...> only as the whole last segment: wider then.
        ("auth/social/<path:rest>/", "/auth/social/*", False),
    ],
)
def test_routes_become_proxy_matches(pattern, match, exact):
    from strangler_proxy.routing import Route, RouteTable

    assert proxy_match(pattern) == (match, exact)
    RouteTable([Route(name="r", match=match, target="svc")])  # the proxy accepts it


def test_every_route_file_is_one_the_proxy_accepts(twoclusters):
    from strangler_proxy.routing import Route, RouteTable

    out = decompose(twoclusters)
    routes = [Route.from_dict(r) for step in out["plan"] for r in step["route_file"]["routes"]]
    table = RouteTable(routes)
    assert len(table) == len(out["routes"])
    assert table.match("POST", "/billing/3/charge/").target in {s["name"] for s in out["services"]}


# --- the legacy monolith ----------------------------------------------------------------
def test_on_the_monolith_the_suggestion_beats_the_per_app_baseline_on_its_objective(monolith):
    out = decompose(monolith.doc)
    suggested, baseline = out["metrics"]["suggested"], out["metrics"]["per_app"]
    assert out["metrics"]["objective"] == "modularity"
    assert suggested["modularity"] >= baseline["modularity"]
    assert out["metrics"]["offered"] is True
    assert suggested["cut"]["atomic_blocks"] <= baseline["cut"]["atomic_blocks"]
    plan = out["plan"]
    assert [s["order"] for s in plan] == list(range(1, len(plan) + 1))
    assert plan[-1]["stays_in_monolith"] is True
    # Least entangled first; the step that stays is the one that holds the most (plan.py),
    # which need not be the most entangled.
    entanglement = [s["entanglement"] for s in plan[:-1]]
    assert entanglement == sorted(entanglement)
    for step in plan:
        for item in step["cut_relations"] + step["joins_to_compose"] + step["raw_sql"]:
            assert all(ev["file"] and ev["line"] for ev in item["evidence"])
    validate(out)


def test_a_target_count_the_graph_cannot_reach_is_said(monolith):
    out = decompose(monolith.doc, Options(services=200))
    assert "no split with exactly 200 services" in out["metrics"]["note"]


# --- the commands -------------------------------------------------------------------------
FIGKIT = Path(sys.executable).with_name("figkit")


def test_figkit_plan_rewrites_the_plan_and_writes_route_files(tmp_path, twoclusters):
    (tmp_path / "analysis.json").write_text(json.dumps(twoclusters))
    result = subprocess.run([str(FIGKIT), "plan", str(tmp_path / "analysis.json"), "--granularity", "model",
                             "--services", "2", "--in-place"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "analysis.json").read_text())
    assert written["metrics"]["granularity"] == "model" and len(written["services"]) == 2
    files = sorted((tmp_path / "routes").glob("*.json"))
    assert len(files) == 2 and all(json.loads(f.read_text())["routes"] for f in files)


def test_figkit_plan_with_a_bad_config_exits_2_with_one_line(tmp_path, twoclusters):
    (tmp_path / "analysis.json").write_text(json.dumps(twoclusters))
    config = tmp_path / "figkit.toml"
    config.write_text('granularity = "class"\n')
    result = subprocess.run([str(FIGKIT), "plan", str(tmp_path / "analysis.json"), "--config", str(config)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "granularity must be" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_options_from_the_projects_pyproject(tmp_path):
    from analyzer.decompose.config import find_config

    (tmp_path / "pyproject.toml").write_text(
        "[tool.figkit]\nservices = 3\n[tool.figkit.weights]\natomic = 10\n"
    )
    path, data = find_config(tmp_path)
    options = options_from(data)
    assert (
        path.name == "pyproject.toml"
        and options.services == 3
        and options.weights == {"atomic": 10.0}
    )


def test_suggest_needs_something_to_split():
    with pytest.raises(AnalyzerError, match="no models or modules"):
        suggest(from_analysis({"apps": [], "models": [], "edges": [], "routes": []}), Options())


def test_figkit_plan_on_a_missing_analysis_says_what_to_run(tmp_path):
    result = subprocess.run(
        [str(FIGKIT), "plan", str(tmp_path / "analysis.json")], capture_output=True, text=True
    )
    assert result.returncode == 2 and "run `figkit analyze PATH` first" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_modularity_agrees_with_networkx(twoclusters):
    import networkx as nx

    from analyzer.decompose.metrics import modularity

    coupling = from_analysis(twoclusters)
    for options in (Options(), Options(granularity="model", services=3)):
        assignment = suggest(coupling, options).assignment
        parts = {}
        for element, service in assignment.items():
            parts.setdefault(service, set()).add(element)
        expected = nx.community.modularity(
            coupling.element_graph(), list(parts.values()), weight="weight"
        )
        assert modularity(coupling, assignment) == pytest.approx(expected)


def test_the_split_does_not_depend_on_pythons_hash_seed(tmp_path, monolith):
    """The monolith, since a graph with an obvious split comes out the same in any order."""
    import os

    results = []
    for hash_seed in ("1", "2", "3"):
        folder = tmp_path / hash_seed
        folder.mkdir()
        (folder / "analysis.json").write_text(json.dumps(monolith.doc))
        subprocess.run([str(FIGKIT), "plan", str(folder / "analysis.json"), "--granularity", "model", "--in-place"],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})  # fmt: skip
        written = json.loads((folder / "analysis.json").read_text())
        results.append((written["services"], written["plan"]))
    assert results[0] == results[1] == results[2]


def test_a_format_suffix_route_moves_with_its_json_copies(twoclusters):
    """DRF answers /billing/3/charge.json as well: the route file sends it to the same service."""
    from strangler_proxy.routing import Route, RouteTable

    document = {**twoclusters, "routes": [dict(r) for r in twoclusters["routes"]]}
    charge = next(r for r in document["routes"] if r["pattern"].endswith("/charge/"))
    charge["format_suffix"] = True
    out = decompose(document)
    table = RouteTable(
        [Route.from_dict(r) for step in out["plan"] for r in step["route_file"]["routes"]]
    )
    assert len(table) == len(out["routes"]) + 1
    found = table.match("POST", "/billing/3/charge.json")
    assert found is not None and found.name.endswith("-fmt")
    assert found.target == table.match("POST", "/billing/3/charge/").target


def test_proxy_route_names_avoid_the_names_the_proxy_reserves():
    from analyzer.decompose.plan import RESERVED_ROUTE_NAMES, _unique_name
    from strangler_proxy.routing import RESERVED_NAMES

    assert RESERVED_ROUTE_NAMES == RESERVED_NAMES
    used: set[str] = set()
    names = [_unique_name(label, used) for label in ("all", "Default", "none", "all")]
    assert not {n.lower() for n in names} & RESERVED_NAMES
    assert len(set(names)) == 4
