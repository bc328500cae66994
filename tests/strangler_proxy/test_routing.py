"""Route matching: precedence, converters, prefixes, methods, headers, normalisation."""

from __future__ import annotations

import pytest

from strangler_proxy.errors import BadPath, RouteError
from strangler_proxy.routing import HeaderMatch, Route, RouteTable, compile_pattern, normalise_path


def table(*routes: tuple) -> RouteTable:
    built = []
    for spec in routes:
        name, match, *rest = spec
        opts = rest[0] if rest else {}
        built.append(
            Route(
                name,
                match,
                "catalog",
                methods=frozenset(opts.get("methods", ())),
                header=HeaderMatch.parse(opts["header"]) if "header" in opts else None,
            )
        )
    return RouteTable(built)


def name(t: RouteTable, path: str, method: str = "GET", headers: dict | None = None) -> str | None:
    route = t.match(method, path, headers)
    return route.name if route else None


def test_unmatched_paths_go_to_the_monolith():
    t = table(("products", "/api/products/<int:id>/"))
    assert name(t, "/api/orders/1/") is None
    assert name(t, "/") is None


def test_a_literal_segment_beats_a_converter_which_beats_a_prefix():
    t = table(
        ("prefix", "/api/*"),
        ("any-id", "/api/products/<str:key>/"),
        ("int-id", "/api/products/<int:id>/"),
        ("featured", "/api/products/featured/"),
    )
    assert name(t, "/api/products/featured/") == "featured"
    assert name(t, "/api/products/7/") == "int-id"
    assert name(t, "/api/products/blue-shirt/") == "any-id"
    assert name(t, "/api/products/7/reviews/") == "prefix"
    assert name(t, "/api/") == "prefix"


def test_a_prefix_covers_its_own_path_and_everything_below_but_not_a_longer_name():
    t = table(("catalog", "/api/catalog/*"))
    assert name(t, "/api/catalog") == "catalog"
    assert name(t, "/api/catalog/") == "catalog"
    assert name(t, "/api/catalog/a/b/c") == "catalog"
    assert name(t, "/api/catalogue/") is None


def test_the_deeper_prefix_wins():
    t = table(("api", "/api/*"), ("catalog", "/api/catalog/*"))
    assert name(t, "/api/catalog/x") == "catalog"
    assert name(t, "/api/orders/x") == "api"


def test_trailing_slash_is_significant_in_exact_patterns_as_in_django():
    t = table(("detail", "/api/products/<int:id>/"))
    assert name(t, "/api/products/5/") == "detail"
    assert name(t, "/api/products/5") is None


def test_converters_follow_django():
    t = table(
        ("uuid", "/o/<uuid:id>/"),
        ("slug", "/s/<slug:s>/"),
        ("path", "/files/<path:rest>"),
        ("mixed", "/page-<int:n>/"),
    )
    assert name(t, "/o/1b4e28ba-2fa1-11d2-883f-0016d3cca427/") == "uuid"
    assert name(t, "/o/not-a-uuid/") is None
    assert name(t, "/s/a_b-c/") == "slug"
    assert name(t, "/s/a.b/") is None
    assert name(t, "/files/a/b/c.txt") == "path"
    assert name(t, "/files/") is None
    assert name(t, "/page-3/") == "mixed"
    assert name(t, "/page-x/") is None


def test_methods_restrict_a_route_and_fall_through_to_the_next_match():
    t = table(("read", "/api/products/<int:id>/", {"methods": ["GET", "HEAD"]}), ("api", "/api/*"))
    assert name(t, "/api/products/1/", "GET") == "read"
    assert name(t, "/api/products/1/", "HEAD") == "read"
    assert name(t, "/api/products/1/", "DELETE") == "api"


def test_a_header_route_beats_the_same_path_without_one():
    t = table(
        ("beta", "/api/*", {"header": "X-Beta: 1"}),
        ("api", "/api/*"),
        ("present", "/x/*", {"header": "X-Any"}),
    )
    assert name(t, "/api/a", headers={"x-beta": "1"}) == "beta"
    assert name(t, "/api/a", headers={"x-beta": "2"}) == "api"
    assert name(t, "/api/a") == "api"
    assert name(t, "/x/a", headers={"x-any": ""}) == "present"
    assert name(t, "/x/a") is None


def test_a_thousand_routes_match_like_ten():
    routes = [Route(f"r{i}", f"/api/r{i}/<int:id>/", "catalog") for i in range(1000)]
    t = RouteTable(routes)
    assert name(t, "/api/r999/5/") == "r999"
    assert name(t, "/api/r1000/5/") is None


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/api/products/../admin/", "/api/admin/"),
        ("/api/./products/", "/api/products/"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/api/products/", "/api/products/"),
        ("/a/..b/c.", "/a/..b/c."),
    ],
)
def test_dot_segments_are_resolved_before_matching(raw, normal):
    assert normalise_path(raw) == normal


def test_a_dot_dot_path_cannot_reach_a_route_around_its_pattern():
    t = table(("admin", "/admin/*"), ("catalog", "/api/catalog/*"))
    assert name(t, normalise_path("/api/catalog/../../admin/users")) == "admin"


@pytest.mark.parametrize("bad", ["relative", "/a\x00b"])
def test_bad_paths_are_refused(bad):
    with pytest.raises(BadPath):
        normalise_path(bad)


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("api/x", "start with '/'"),
        ("/api/<float:x>/", "unknown converter"),
        ("/api/*/x", "'*' may only end"),
        ("/api/x*", "ends in '/*'"),
        ("/files/<path:p>/edit/", "<path:...> must be the whole last segment"),
        ("/a/<int:id", "unbalanced"),
        ("/a b", "no spaces"),
        ("/a?b=1", "'?'"),
    ],
)
def test_bad_patterns_say_what_is_wrong(pattern, says):
    with pytest.raises(RouteError, match=None) as info:
        compile_pattern(pattern)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"name": "x", "match": "/a/", "target": "t", "mode": "canary"}, "bad mode"),
        ({"name": "bad name", "match": "/a/", "target": "t"}, "bad route name"),
        ({"name": "x", "match": "/a/", "target": "t", "methods": ["get me"]}, "bad HTTP method"),
        ({"name": "x", "match": "/a/", "target": "t", "header": "X Beta"}, "bad header match"),
        ({"name": "x", "match": "/a/", "target": "t", "colour": "red"}, "unknown route field"),
        ({"name": "x", "target": "t"}, "'match' is required"),
        ("not an object", "JSON object"),
    ],
)
def test_route_specs_are_validated(spec, says):
    with pytest.raises(RouteError) as info:
        Route.from_dict(spec)
    assert says in str(info.value)


def test_a_route_survives_its_json_form():
    route = Route(
        "r", "/api/<int:id>/", "catalog", "service", frozenset({"GET"}), HeaderMatch("x-beta", "1")
    )
    assert Route.from_dict(route.to_dict()) == route


def test_duplicate_names_are_refused():
    with pytest.raises(RouteError, match="duplicate"):
        table(("a", "/x/"), ("a", "/y/"))
