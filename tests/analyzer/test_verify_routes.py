"""--verify on routes: one canonical form with the trailing slash kept, scored against Django's
own resolver, and each proxy route tried on a concrete path built from Django's pattern."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from analyzer.analysis import Analysis
from analyzer.decompose.plan import proxy_match
from analyzer.link.routes import Route
from analyzer.pipeline import analyze
from analyzer.verify import probe, verify
from analyzer.verify_probe import NoSample, sample_path, toggle_slash
from analyzer.verify_routes import (
    check_proxy_routes,
    check_suffix_copies,
    format_suffix_base,
    route_key,
)

FIXTURES = Path(__file__).parent / "fixtures"
NO_SLASH = FIXTURES / "verify_router_without_trailing_slash"
PROXY = FIXTURES / "verify_proxy_routes"
FIGKIT = Path(sys.executable).with_name("figkit")


def analysis_of(root: Path, *patterns: str, **route_fields) -> Analysis:
    """An analysis whose only content is these routes, as a static reading might have found them."""
    routes = [
        Route(pattern=p, view="v", app="a", name=None, methods=None, file="urls.py", line=1)
        for p in patterns
    ]
    for route in routes:
        for key, value in route_fields.items():
            object.__setattr__(route, key, value)
    project = {"settings_module": "proj.settings", "source_root": str(root)}
    return Analysis(project=project, apps=[], models=[], routes=routes, edges=[], warnings=[])


@pytest.fixture(scope="module")
def no_slash_seen() -> dict:
    return probe(analysis_of(NO_SLASH))


@pytest.fixture(scope="module")
def proxy_seen() -> dict:
    return probe(analysis_of(PROXY))


def routes_score(result):
    return next(s for s in result.scores if s.name == "routes")


# -- the canonical form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("django", "static"),
    [
        ("api/^notes/(?P<pk>[^/.]+)/$", "api/notes/<pk>/"),
        ("^items/(?P<pk>[0-9]+)\\.json$", "items/<int:id>.json"),
        ("feeds/^(?P<feed>[a-z]+)/?$", "feeds/<feed>/?"),
        ("tokens/<uuid:token>/\\Z", "tokens/<token>/"),
        ("a/(?:(?P<x>[a-z]+)/)?b$", "a/(?:<x>/)?b"),
    ],
)
def test_a_regex_and_a_path_pattern_of_the_same_route_share_a_key(django, static):
    assert route_key(django) == route_key(static)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("api/notes/(?P<pk>[^/.]+)$", "api/notes/<pk>/"),  # the trailing slash is significant
        ("api/notes$", "api/notes/"),
        ("^feeds/(?P<feed>[a-z]+)/?$", "feeds/<feed>/"),
        ("items/<int:pk>.json", "items/<int:pk>/json"),
    ],
)
def test_routes_that_clients_send_differently_have_different_keys(one, other):
    assert route_key(one) != route_key(other)


def test_typed_keys_tell_apart_routes_that_differ_only_in_a_converter():
    assert route_key("ping/<uuid:code>/") == route_key("ping/<sha1:key>/")
    assert route_key("ping/<uuid:code>/", typed=True) != route_key("ping/<sha1:key>/", typed=True)
    assert route_key("users/<name>/", typed=True) == route_key("users/<str:name>/", typed=True)


@pytest.mark.parametrize(
    ("pattern", "base"),
    [
        ("api/notes/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", "api/notes/<>"),
        ("api/notes\\.(?P<format>[a-z0-9]+)/?$", "api/notes"),
        ("api/<drf_format_suffix:format>", "api"),
        ("api/notes/<int:pk>.<format>", "api/notes/<>"),
        ("files/<name>.<ext>", None),
        ("api/notes/", None),
    ],
)
def test_drf_format_suffix_copies_are_known_by_their_format_group(pattern, base):
    assert format_suffix_base(pattern) == base


# -- concrete paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regex",
    [
        r"^api/(?P<pk>[^/.]+)/$",
        r"^items/(?P<pk>[0-9]+)/\Z",
        r"^t/(?P<u>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/\Z",
        r"^s/(?P<slug>[-a-zA-Z0-9_]+)/edit\Z",
        r"^files/(?P<name>.+)\Z",
        r"^(?:en|fr)/(?P<y>\d{4})-(?P<m>\d\d)/(?:(?P<fmt>[a-z]+)/)?$",
        r"^\.well-known/jwks.json$",
        r"^api/(?i)Notes/(?P<w>\w+)/(?P<nw>\W)(?P<ns>\S)$",
    ],
)
def test_the_sample_path_matches_the_regex_it_was_built_from(regex):
    sample = sample_path(regex)
    flags = "".join(re.findall(r"\(\?([aiLmsux]+)\)", regex))
    plain = re.sub(r"\(\?[aiLmsux]+\)", "", regex)
    assert re.fullmatch(f"(?{flags})" + plain if flags else plain, sample), sample
    assert "." not in sample.split("/") and "" not in sample.split("/")[:-1], sample


def test_a_back_reference_is_reported_not_guessed():
    with pytest.raises(NoSample, match="GROUPREF"):
        sample_path(r"^(?P<a>[a-z]+)/(?P=a)/$")


def test_toggling_the_slash_adds_or_removes_it_and_leaves_the_root_alone():
    assert (toggle_slash("/a/"), toggle_slash("/a"), toggle_slash("/")) == ("/a", "/a/", None)


# -- scored against the fixture's real router -------------------------------------------------


def test_a_router_without_trailing_slash_scores_routes_that_add_one_as_missed_and_wrong(
    no_slash_seen,
):
    # What the static reading gave before it read trailing_slash=False: a slash on every route.
    result = verify(analysis_of(NO_SLASH, "api/notes/", "api/notes/<pk>/"), no_slash_seen)
    routes = routes_score(result)
    assert (routes.recall, routes.precision) == (0.0, 0.0)
    assert {r["pattern"] for r in result.missed_routes} == {
        "api/notes$",
        "api/notes/(?P<pk>[^/.]+)$",
    }
    assert all(r["view"] == "notes.views.NoteViewSet" for r in result.missed_routes)
    assert all(r["declared_in"] == "notes.urls" for r in result.missed_routes)
    assert {r["pattern"] for r in result.wrong_routes} == {"api/notes/", "api/notes/<pk>/"}
    assert {c.status for c in result.proxy} == {"no route"}


def test_routes_as_the_router_makes_them_score_full_and_their_proxy_routes_match(no_slash_seen):
    result = verify(
        analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>", format_suffix=True), no_slash_seen
    )
    routes = routes_score(result)
    assert (len(routes.django), routes.recall, routes.precision) == (2, 1.0, 1.0)
    assert [(c.sample, c.proxy_match, c.status) for c in result.proxy] == [
        ("/api/notes", "/api/notes", "ok"),
        ("/api/notes/a", "/api/notes/<pk>", "ok"),
    ]
    suffixes = next(s for s in result.scores if s.name == "format suffixes")
    assert (suffixes.django, suffixes.recall) == ({"api/notes", "api/notes/<>"}, 1.0)


def test_format_suffix_copies_are_not_own_routes_and_are_scored_apart(no_slash_seen):
    result = verify(analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>"), no_slash_seen)
    suffixes = next(s for s in result.scores if s.name == "format suffixes")
    assert routes_score(result).recall == 1.0
    assert (suffixes.recall, sorted(suffixes.missed)) == (0.0, ["api/notes", "api/notes/<>"])


def test_a_route_of_a_third_party_view_that_django_has_is_not_wrong(no_slash_seen):
    result = verify(analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>", "api/"), no_slash_seen)
    routes = routes_score(result)
    assert "api/" not in routes.django  # DRF's API root view is not the project's own
    assert routes.precision == 1.0 and not result.wrong_routes


# -- proxy routes on concrete paths -----------------------------------------------------------


def test_each_kind_of_capture_gets_a_path_that_django_resolves_to_its_route(proxy_seen):
    own = [r for r in proxy_seen["routes"] if r["view_local"]]
    assert len(own) == 9
    assert all(r["sample_resolves"] for r in own), [r for r in own if not r["sample_resolves"]]
    toggles = {r["pattern"]: r["toggled_resolves"] for r in own}
    assert toggles["^feeds/(?P<feed>[a-z]+)/?$"] is True  # `/?`: both forms are the route
    assert toggles["items/<int:pk>/"] is False


def test_proxy_routes_are_tried_on_the_path_and_on_its_slash_toggled_twin(proxy_seen):
    by_hand = {  # what a plan could make of the regex routes: exact, or widened to a prefix
        "^orders/(?P<number>[0-9]{6})/$": "/orders/<int:number>/",
        "^feeds/(?P<feed>[a-z]+)/?$": "/feeds/*",
        "^reports/(?P<kind>[a-z-]+)\\.csv$": "/reports/*",
    }
    patterns = [r["pattern"] for r in proxy_seen["routes"]]  # the analysis has every route
    checks = check_proxy_routes(
        proxy_seen["routes"], patterns, lambda p: by_hand.get(p) or proxy_match(p)[0]
    )
    assert {c.pattern: c.status for c in checks} == {
        "items/<int:pk>/": "ok",
        "items/<slug:slug>/edit": "ok",
        "tokens/<uuid:token>/": "ok",
        "files/<path:name>": "ok",
        "users/<username>/": "ok",
        "^orders/(?P<number>[0-9]{6})/$": "ok",
        "^feeds/(?P<feed>[a-z]+)/?$": "ok",  # Django serves both forms: a prefix may take both
        "^reports/(?P<kind>[a-z-]+)\\.csv$": "slash",  # the prefix takes a slash Django refuses
        "archive/<year:year>/": "ok",  # a project's own converter reads as one segment (str)
    }


def test_a_proxy_route_that_adds_a_slash_django_does_not_have_fails_on_the_toggled_path(
    proxy_seen,
):
    wrong = {"items/<int:pk>/": "/items/*"}  # a prefix takes /items/1 too, which Django refuses
    checks = check_proxy_routes(
        proxy_seen["routes"], ["items/<int:pk>/"], lambda p: wrong.get(p) or proxy_match(p)[0]
    )
    [check] = [c for c in checks if c.pattern == "items/<int:pk>/"]
    assert (check.status, check.sample, check.detail) == ("slash", "/items/1/", "/items/1")
    assert sum(c.status == "no route" for c in checks) == 8


def test_verify_json_lists_misses_by_pattern_with_view_and_proxy_figure(tmp_path):
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(PROXY), "--out", str(tmp_path), "--verify", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    routes = json.loads((tmp_path / "verify.json").read_text())["routes"]
    assert routes["django"] == 9
    assert routes["proxy"]["routes"] == 9
    assert routes["proxy"]["matching"] + len(routes["proxy"]["failed"]) == 9
    assert "proxy routes matching a path built from Django's pattern" in result.stdout
    # every route gets a proxy route the proxy takes: a project's converter reads as a segment,
    # `[0-9]{6}` as int
    assert (routes["proxy"]["matching"], routes["proxy"]["failed"]) == (9, [])


def test_a_prefix_claim_is_right_when_django_has_a_route_under_it(no_slash_seen):
    result = verify(
        analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>", "api/*", "elsewhere/*"),
        no_slash_seen,
    )
    routes = routes_score(result)
    assert routes.wrong == {"elsewhere/*"}
    assert [r["pattern"] for r in result.wrong_routes] == ["elsewhere/*"]


def test_a_route_under_an_undecided_setting_is_not_wrong_when_django_lacks_it(no_slash_seen):
    analysis = analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>", "debug/")
    analysis.routes[2] = replace(analysis.routes[2], conditional="settings.DEBUG")
    routes = routes_score(verify(analysis, no_slash_seen))
    assert (routes.precision, routes.wrong, routes.static - routes.judged) == (
        1.0,
        set(),
        {"debug/"},
    )
    analysis.routes[2] = replace(analysis.routes[2], conditional=None)
    assert routes_score(verify(analysis, no_slash_seen)).wrong == {"debug/"}


def test_a_format_copy_is_checked_against_its_routes_proxy_route(no_slash_seen):
    checks = check_suffix_copies(
        no_slash_seen["routes"], ["api/notes", "api/notes/<pk>"], lambda p: proxy_match(p)[0]
    )
    assert {(c.sample, c.proxy_match, c.status) for c in checks} == {
        ("/api/notes.a", "/api/notes", "no match"),  # a literal route does not take `.json`
        ("/api/notes/a.a", "/api/notes/<pk>", "ok"),  # a capture takes it along
    }
    assert check_suffix_copies(no_slash_seen["routes"], [], lambda p: p) == []


def test_a_route_that_no_plan_step_holds_gets_no_proxy_route(no_slash_seen):
    plan = [{"routes": [{"pattern": "api/notes", "proxy_route": {"match": "/api/notes"}}]}]
    result = verify(analysis_of(NO_SLASH, "api/notes", "api/notes/<pk>"), no_slash_seen,
                    {"plan": plan})  # fmt: skip
    assert {c.sample: c.status for c in result.proxy} == {
        "/api/notes": "ok",
        "/api/notes/a": "not in plan",
    }


def test_the_command_names_a_missed_route_by_djangos_pattern_with_its_view(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(NO_SLASH, project, ignore=shutil.ignore_patterns("__pycache__"))
    urls = project / "notes" / "urls.py"
    urls.write_text(urls.read_text() + '\nfrom django.urls import path\nfrom notes.views import NoteViewSet\n\n'
                    'hidden = "".join(["hid", "den"])  # a pattern no static reading can know\n'
                    'urlpatterns = urlpatterns + [path(hidden, NoteViewSet.as_view({"get": "list"}))]\n')  # fmt: skip
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(project), "--out", str(tmp_path / "out"), "--verify",
         "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "route missed: api/hidden  (notes.views.NoteViewSet, in notes.urls)" in result.stdout
    routes = json.loads((tmp_path / "out" / "verify.json").read_text())["routes"]
    assert routes["missed_routes"] == [
        {"pattern": "api/hidden", "view": "notes.views.NoteViewSet", "declared_in": "notes.urls"}
    ]


def test_a_project_that_prints_while_loading_is_still_read(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(PROXY, project, ignore=shutil.ignore_patterns("__pycache__"))
    settings = project / "proj" / "settings.py"
    settings.write_text('print("settings loaded", flush=True)\n' + settings.read_text())
    seen = probe(analysis_of(project))
    assert len([r for r in seen["routes"] if r["view_local"]]) == 9


def test_an_installed_app_beside_the_analysed_folder_is_external_to_verify_as_to_the_analysis():
    """sidecar/ shares shop/'s import root but lies outside the analysed folder: the analysis
    counts it external (its include a `sidecar/*` claim), so Django's view of it is out of
    recall, like a site-packages app's, and the claim is right since Django has a route there."""
    analysis = analyze(FIXTURES / "verify_app_beside_the_tree" / "shop", jobs=1)
    seen = probe(analysis)
    assert {m["label"]: m["local"] for m in seen["models"]} == {
        "goods.Item": True,
        "sidecar.Note": False,
    }
    scores = {s.name: s for s in verify(analysis, seen).scores}
    for name in ("models", "tables", "routes"):
        assert (scores[name].recall, scores[name].precision) == (1.0, 1.0), name
    assert "sidecar/*" in scores["routes"].static
