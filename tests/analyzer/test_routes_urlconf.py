"""Urlconf forms that change which URLs Django resolves: format suffixes, lists extended in
AppConfig.ready(), settings conditions, third-party includes, and one route per URL. The
expectations were checked against Django's resolver (Django 5.2, DRF 3.18) where it can load
the fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.contract import validate
from analyzer.discover import discover
from analyzer.extract import extract
from analyzer.link import link
from analyzer.link.conditions import evaluate, residual
from analyzer.pipeline import analyze

FIXTURES = Path(__file__).parent / "fixtures"


def document(name: str) -> dict:
    doc = analyze(FIXTURES / name, jobs=1).to_json()
    validate(doc)
    return doc


def by_pattern(doc: dict) -> dict[str, dict]:
    return {r["pattern"]: r for r in doc["routes"]}


def test_format_suffix_patterns_mark_routes_rather_than_repeat_them():
    found = by_pattern(document("routes_format_suffix"))
    assert set(found) == {"docs/", "docs/<int:pk>/", "v2/docs/", "v2/plain/"}
    assert [p for p, r in found.items() if r.get("format_suffix")] == [
        "docs/", "docs/<int:pk>/", "v2/docs/",
    ]  # fmt: skip


def test_patterns_appended_in_app_ready_join_the_urlconf_they_extend():
    found = by_pattern(document("routes_ready_extension"))
    assert set(found) == {
        "", "plugins/status/", "plugins/hooks/", "plugins/extra/", "plugins/feedback/"
    }  # fmt: skip
    assert "conditional" not in found["plugins/feedback/"]  # FEEDBACK_ENABLED = True
    assert found["plugins/hooks/"]["view"] == "plugins.views.hooks"
    assert found["plugins/extra/"]["evidence"]["file"] == "plugins/apps.py"


def test_routes_under_settings_conditions_are_dropped_when_false_and_kept_when_unknown():
    # the settings say ENABLE_SIGNUP = False; DEBUG comes from the environment
    found = by_pattern(document("routes_settings_conditions"))
    assert "signup/" not in found  # not settings.DEBUG and settings.ENABLE_SIGNUP: False
    assert "conditional" not in found["always/"]
    assert found["debug/"]["conditional"] == "settings.DEBUG"
    assert found["closed/"]["conditional"] == 'not (os.environ.get("BETA"))'  # the rest is known
    assert found["toolbar/"]["conditional"] == "settings.DEBUG"  # [...] if ... else [...]
    assert found["no-toolbar/"]["conditional"] == "not (settings.DEBUG)"
    media = found["media/(?P<path>.*)"]  # static(): served only when DEBUG
    assert (media["view"], media["conditional"]) == ("flags.views.page", "settings.DEBUG")


def _link_with_settings(root: Path, values: dict[str, object]) -> dict:
    project = discover(root)
    project.settings_values = values  # what the settings reader knows
    files = [
        extract((project.root / s.path).read_bytes(), s.path, s.module, s.is_package)
        for s in project.files
    ]
    return link(project, files).to_json()


def test_routes_under_settings_all_known_are_exactly_those_djangos_resolver_lists():
    values = {"DEBUG": False, "ENABLE_SIGNUP": True, "SHOW_DOCS": False}
    doc = _link_with_settings(FIXTURES / "routes_settings_conditions", values)
    found = by_pattern(doc)
    assert set(found) == {"always/", "signup/", "no-toolbar/"}  # what Django's resolver lists
    assert "conditional" not in found["signup/"]


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("settings.DEBUG", {"DEBUG": True}, True),
        ("not settings.DEBUG", {"DEBUG": True}, False),
        ("settings.A and settings.B", {"A": False}, False),
        ("settings.A or settings.B", {"A": True}, True),
        ("settings.A or settings.B", {"A": False}, None),
        ('getattr(settings, "X", False)', {"X": True}, True),
        ('getattr(settings, "X", False)', {}, None),  # unread is not unset
        ('"debug_toolbar" in settings.INSTALLED_APPS', {"INSTALLED_APPS": ["a"]}, False),
        ("settings.MODE == 'beta'", {}, None),
        ("settings.IMPORTERS.get('jira', {}).get('active', False)", {"IMPORTERS": {}}, False),
        (
            "settings.IMPORTERS.get('jira', {}).get('active')",
            {"IMPORTERS": {"jira": {"active": 1}}},
            True,
        ),
        ("settings.IMPORTERS.get('jira')", {}, None),
        ("os.environ.get('X')", {"X": True}, None),
    ],
)
def test_conditions_evaluate_only_what_the_settings_tell(expression, values, expected):
    assert evaluate(expression, values) is expected


def test_third_party_includes_are_routes_of_an_external_app_with_a_warning_when_unknown():
    doc = document("routes_external_includes")
    found = by_pattern(doc)
    assert found["api-auth/login/"]["external"] is True
    assert found["api-auth/login/"]["app"] == "rest_framework"
    assert found["i18n/setlang/"]["methods"] == ["POST"]
    catch_all = found["accounts/*"]
    assert (catch_all["external"], catch_all["app"]) == (True, "allauth")
    # Django's admin: one external route under its prefix, with no warning (its pages follow
    # the registered models, so the whole prefix goes where the admin is kept)
    assert [p for p in found if p.startswith("admin/")] == ["admin/*"]
    assert (found["admin/*"]["external"], found["admin/*"]["app"]) == (True, "admin")
    assert not any("django.contrib.admin" in w["message"] for w in doc["warnings"])
    (warning,) = [w for w in doc["warnings"] if "allauth.urls" in w["message"]]
    assert (warning["file"], warning["line"]) == ("proj/urls.py", 12)
    assert "accounts/*" in warning["message"]
    assert not any(p.startswith("gone/") for p in found)  # own package: not external
    assert any("include('portal.gone_urls')" in w["message"] for w in doc["warnings"])


def test_one_route_per_url_and_a_pattern_django_never_reaches_is_dropped_with_a_warning():
    doc = document("routes_one_per_url")
    assert [(r["pattern"], r["view"]) for r in doc["routes"]] == [
        ("page/", "pages.views.show"),
        ("hook/", "pages.views.Hook"),  # csrf_exempt(Hook.as_view()): the class it wraps
    ]
    (warning,) = [w for w in doc["warnings"] if "never reached" in w["message"]]
    assert (warning["file"], warning["line"]) == ("proj/urls.py", 8)


def test_i18n_patterns_sit_under_the_default_language_as_djangos_resolver_lists_them():
    found = by_pattern(document("routes_i18n_patterns"))
    # LANGUAGE_CODE unset: Django's "en-us"; prefix_default_language=False: no prefix
    assert set(found) == {"health/", "en-us/about/", "en-us/blog/", "shop/"}
    doc = _link_with_settings(FIXTURES / "routes_i18n_patterns", {"LANGUAGE_CODE": "de"})
    assert {r["pattern"] for r in doc["routes"]} == {"health/", "de/about/", "de/blog/", "shop/"}


def test_a_condition_keeps_only_the_part_the_settings_do_not_decide():
    text = 'not settings.A and (settings.B or os.environ.get("X")) and settings.C'
    assert residual(text, {"A": False, "C": True}) == '(settings.B or os.environ.get("X"))'
    assert residual(text, {"A": True}) is False
    assert residual("settings.B", {}) == "settings.B"


def test_views_registered_for_every_model_of_a_kind_become_routes_of_each_such_model():
    found = by_pattern(document("routes_view_registry"))
    # register_model_view(model, "journal")(...) under `if issubclass(model, JournalingMixin)`
    assert set(found) == {"sites/<int:pk>/journal/", "sites/<int:pk>/map/"}
    assert found["sites/<int:pk>/journal/"]["view"] == "core.views.JournalView"
    assert found["sites/<int:pk>/journal/"]["evidence"]["file"] == "core/features.py"
