"""DRF routers as Django resolves them: router options, project subclasses, custom route lists,
nested registrations and generic viewsets. Each expected pattern was checked against Django's
resolver with DRF 3.18, drf-nested-routers 0.95 and drf-extensions 0.8 installed (patterns
compare by ``normalise_pattern``: DRF's lookup groups are written ``<name>`` here)."""

from __future__ import annotations

from pathlib import Path

from analyzer.pipeline import analyze

FIXTURES = Path(__file__).parent / "fixtures"


def routes(name: str) -> dict[str, dict]:
    doc = analyze(FIXTURES / name, jobs=1).to_json()
    return {r["pattern"]: r for r in doc["routes"]}


def test_router_options_subclasses_and_custom_route_lists_shape_every_url():
    found = routes("routes_drf_router_options")
    assert set(found) == {
        # DefaultRouter(trailing_slash=False): no slash; API root and format suffixes
        "strict/", "strict/notes", "strict/notes/<pk>", "strict/notes/<pk>/pin",
        "strict/notes/<pk>/versions/<version_id>",
        # SimpleRouter: no API root
        "simple/notes/", "simple/notes/<pk>/", "simple/notes/<pk>/pin/",
        "simple/notes/<pk>/versions/<version_id>/",  # url_path=r"versions/(?P<version_id>\d+)"
        # a subclass that sets self.trailing_slash = "/?"
        "optional/tags/?", "optional/tags/<title>/?",
        # a DefaultRouter subclass made in another module, include_format_suffixes = False
        "shared/", "shared/tags/", "shared/tags/<title>/",
        # a subclass whose own `routes` has the list route only
        "listonly/notes/",
        # a DefaultRouter subclass whose name does not end in "Router"
        "v2/", "v2/tags", "v2/tags/<title>",
        # SimpleRouter(trailing_slash="/?"): DRF makes any true value "/"
        "truthy/tags/", "truthy/tags/<title>/",
    }  # fmt: skip
    suffixed = {p for p in found if found[p].get("format_suffix")}
    assert suffixed == {p for p in found if p.startswith(("strict/", "v2/"))}
    assert found["listonly/notes/"]["actions"] == {"GET": "list"}
    assert found["simple/notes/<pk>/pin/"]["actions"] == {"POST": "pin", "DELETE": "unpin"}
    assert found["shared/tags/"]["name"] == "tag-list"


def test_drf_extensions_and_drf_nested_routers_nest_under_the_parent_lookup():
    found = routes("routes_drf_nested")
    assert {p for p in found if p.startswith("ext/")} == {
        "ext/authors/", "ext/authors/<pk>/",
        "ext/authors/<parent_lookup_author>/books/",
        "ext/authors/<parent_lookup_author>/books/<slug>/",
        "ext/authors/<parent_lookup_book__author>/books/<parent_lookup_book>/pages/",
        "ext/authors/<parent_lookup_book__author>/books/<parent_lookup_book>/pages/<pk>/",
    }  # fmt: skip
    assert {p for p in found if p.startswith("nested/")} == {
        "nested/authors/", "nested/authors/<pk>/",
        "nested/authors/<author_pk>/books/", "nested/authors/<author_pk>/books/<slug>/",
        "nested/authors/<author_pk>/books/<book_slug>/pages/",
        "nested/authors/<author_pk>/books/<book_slug>/pages/<pk>/",
    }  # fmt: skip
    assert found["nested/authors/<author_pk>/books/"]["view"] == "shelf.views.BookViewSet"


def test_a_viewset_on_a_subscripted_generic_keeps_its_inherited_actions():
    found = routes("routes_generic_viewset")
    assert found["api/papers/"]["actions"] == {"GET": "list", "POST": "create"}
    assert found["api/papers/<pk>/"]["methods"] == ["GET", "PUT", "PATCH", "DELETE"]
    assert found["api/reviews/<pk>/"]["actions"] == {"GET": "retrieve"}
    assert found["api/reviews/"]["view"] == "papers.views.ReviewViewSet"
