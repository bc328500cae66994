"""Route matching: precedence, converters, prefixes, methods, headers, normalisation."""

from __future__ import annotations

import pytest

from strangler_proxy import policy as policies
from strangler_proxy.errors import BadPath, RouteError
from strangler_proxy.policy import Policy
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
        ({"name": "x", "match": "/a/", "target": "t", "mode": "bluegreen"}, "bad mode"),
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
        "r",
        "/api/<int:id>/",
        "catalog",
        Policy("service"),
        frozenset({"GET"}),
        HeaderMatch("x-beta", "1"),
    )
    assert route.to_dict() == {
        "name": "r",
        "match": "/api/<int:id>/",
        "methods": ["GET"],
        "header": "x-beta: 1",
        "target": "catalog",
        "policy": {"mode": "service"},
    }
    assert Route.from_dict(route.to_dict()) == route


def test_a_route_carries_a_policy_and_its_mode_reads_from_it():
    route = Route("r", "/a/", "catalog", policy=Policy("service"))
    assert route.mode == route.policy.mode == "service"
    assert Route("r", "/a/", "catalog").policy == Policy("monolith")
    with pytest.raises(AttributeError):
        route.mode = "monolith"  # type: ignore[misc]


def test_the_older_mode_shorthand_is_read_as_a_policy():
    old = {"name": "r", "match": "/a/", "target": "catalog", "mode": "service"}
    route = Route.from_dict(old)
    assert route.policy == Policy("service")
    assert "mode" not in route.to_dict() and route.to_dict()["policy"] == {"mode": "service"}
    assert Route.from_dict({**old, "mode": None}).mode == "monolith"


@pytest.fixture
def preview_registered():
    """Register a `preview` mode and behaviour as a behaviour's module would, then forget it."""
    modes, behaviours = dict(policies.MODES), set(policies.BEHAVIOURS)
    policies.register_mode("preview", "a made-up mode for this test")
    policies.register_behaviour("preview")
    yield
    policies.MODES.clear()
    policies.MODES.update(modes)
    policies.BEHAVIOURS.clear()
    policies.BEHAVIOURS.update(behaviours)


def test_a_registered_mode_and_its_options_are_accepted_and_frozen(preview_registered):
    spec = {
        "name": "r",
        "match": "/a/",
        "target": "catalog",
        "policy": {
            "mode": "preview",
            "options": {"preview": {"tee_bytes": 65536, "ignore": ["date"]}},
        },
    }
    route = Route.from_dict(spec)
    assert route.mode == "preview" and route.policy.options["preview"]["tee_bytes"] == 65536
    assert route.to_dict()["policy"] == spec["policy"]
    assert hash(route) == hash(Route.from_dict(spec)) and Route.from_dict(route.to_dict()) == route
    with pytest.raises(TypeError):
        route.policy.options["preview"]["tee_bytes"] = 1  # type: ignore[index]


def test_options_are_left_out_of_the_json_when_empty():
    assert Policy("service").to_dict() == {"mode": "service"}


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ({"mode": "bluegreen"}, "bad mode 'bluegreen'"),
        ({"mode": 3}, "'mode' must be a string"),
        ({"mode": "service", "colour": 1}, "unknown policy field(s): colour"),
        ({"options": {"teleport": {}}}, "unknown behaviour 'teleport'"),
        ({"options": []}, "'options' must be an object"),
        ("service", "must be an object"),
    ],
)
def test_bad_policies_are_refused_in_one_line(policy, says):
    with pytest.raises(RouteError) as info:
        Route.from_dict({"name": "r", "match": "/a/", "target": "t", "policy": policy})
    assert says in str(info.value) and "\n" not in str(info.value)


def test_policy_and_the_older_mode_together_are_refused():
    with pytest.raises(RouteError, match="not both"):
        Route.from_dict(
            {"name": "r", "match": "/a/", "target": "t", "mode": "service", "policy": {}}
        )


@pytest.mark.parametrize("name", ["all", "All", "none", "default"])
def test_reserved_route_names_are_refused(name):
    with pytest.raises(RouteError, match="is reserved"):
        Route.from_dict({"name": name, "match": "/a/", "target": "t"})


def test_a_stored_route_with_a_name_reserved_since_still_loads():
    row = {"name": "all", "match": "/a/../b/*", "target": "t", "mode": "service"}
    assert Route.from_dict(row, stored=True).name == "all"


@pytest.mark.parametrize("match", ["/a/../b/*", "/a/./b/", "/a/..", "/./", "/a/<int:id>/../"])
def test_patterns_with_dot_segments_can_never_match_and_are_refused(match):
    with pytest.raises(RouteError, match="can never match"):
        Route.from_dict({"name": "r", "match": match, "target": "t"})


@pytest.mark.parametrize("match", ["/a/..b/*", "/a/.well-known/", "/files/v1.2/"])
def test_dots_inside_a_segment_are_fine(match):
    assert Route.from_dict({"name": "r", "match": match, "target": "t"}).match == match


@pytest.mark.parametrize(
    "header",
    [
        "X-Beta: 1\r\nX-Evil: 2",
        "X-Beta: a\nb",
        "X-Beta: a\x00b",
        "X-Beta: a\x7fb",
        "X-Beta: caf\u00e9",
    ],
)
def test_header_values_no_request_can_carry_are_refused(header):
    with pytest.raises(RouteError, match="bad header value"):
        Route.from_dict({"name": "r", "match": "/a/", "target": "t", "header": header})


def test_a_header_name_with_a_control_byte_is_refused():
    with pytest.raises(RouteError, match="bad header match"):
        Route.from_dict({"name": "r", "match": "/a/", "target": "t", "header": "X-B\reta: 1"})


def test_header_values_with_inner_spaces_and_empty_ones_are_fine():
    for header, value in [("X-Beta: a b\tc", "a b\tc"), ("X-Beta:", ""), ("X-Beta", None)]:
        route = Route.from_dict({"name": "r", "match": "/a/", "target": "t", "header": header})
        assert route.header == HeaderMatch("x-beta", value)


@pytest.mark.parametrize("method", ["GET\r", "G(E)T", "GET HEAD", "", "G\u00c9T", "X" * 33])
def test_methods_that_are_not_rfc_9110_tokens_are_refused(method):
    with pytest.raises(RouteError, match="bad HTTP method"):
        Route.from_dict({"name": "r", "match": "/a/", "target": "t", "methods": [method]})


def test_methods_are_stored_upper_case_and_any_token_is_a_method():
    route = Route.from_dict(
        {"name": "r", "match": "/a/", "target": "t", "methods": "get, m-search,PURGE"}
    )
    assert route.methods == {"GET", "M-SEARCH", "PURGE"}
    assert Route("r", "/a/", "t", methods=frozenset({"get"})).methods == {"GET"}


def test_the_request_method_is_matched_exactly():
    t = table(("read", "/api/*", {"methods": ["GET"]}))
    assert name(t, "/api/x", "GET") == "read"
    assert name(t, "/api/x", "get") is None  # methods are case-sensitive (RFC 9110 9.1)
    assert name(t, "/api/x", "Get") is None


def test_duplicate_names_are_refused():
    with pytest.raises(RouteError, match="duplicate"):
        table(("a", "/x/"), ("a", "/y/"))
