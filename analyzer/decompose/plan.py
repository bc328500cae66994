"""The extraction plan: which service to cut out first, and what each cut takes.

Least entangled first: a service's entanglement is the weighted coupling that crosses its
boundary. Each step names the routes to move through the proxy (with a ready route file
for `figkit routes import`), the tables that move, and what the cut breaks, each with its
evidence: relations that become an id plus an API or event, atomic blocks that become
sagas, joins that become API composition, raw SQL and writes across the line. A coupling
is listed once, in the step that first cuts it.

The service that stays behind as the monolith comes last: the one that holds the most, its
share of the live routes and tables plus its share of the entanglement
(so not a read-only reporting app that happens to be entangled). The shared kernel is no
step: it is a library each service vendors, so coupling to it is no cut.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from analyzer.decompose.coupling import KERNEL, Coupling, route_element
from analyzer.edge_kinds import EDGE_KINDS, plan_lists

PLAN_LISTS = plan_lists()  # key -> (checklist title, what each becomes)

_REGEX_CHARS = re.compile(r"[\^$()\[\]?*+\\{}|]")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# Regex groups the proxy can say with a Django converter: (converter, whether it matches the
# same paths). `[^/.]+` (DRF's default lookup) becomes str, which also takes a dot: close, not exact.
_GROUP_CONVERTERS: dict[str, tuple[str, bool]] = {
    r"\d+": ("int", True), r"[0-9]+": ("int", True),
    r"[^/]+": ("str", True), r"[^/.]+": ("str", False), r".+": ("path", True),
    r"[-\w]+": ("slug", True), r"[\w-]+": ("slug", True), r"[-a-zA-Z0-9_]+": ("slug", True),
    r"[a-zA-Z0-9_-]+": ("slug", True), r"[\w]+": ("slug", False), r"\w+": ("slug", False),
    r"[0-9a-f-]+": ("str", False), r"[0-9a-fA-F-]+": ("str", False),
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}": ("uuid", True),
}  # fmt: skip
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>((?:[^()\\]|\\.)*)\)")
# Any one character class without '/', repeated: within one path segment, so `str` takes it
# (and more: not exact). saleor's `(?P<channel_slug>[.0-9A-Za-z_\-]+)`.
_SEGMENT_CLASS = re.compile(r"\[(?!\^)(?:[^\]/\\]|\\[^/])+\]\+")
# The converters the proxy knows; a project's own (`<sha1:...>`) is read as str (not exact).
_PROXY_CONVERTERS = {"int", "str", "slug", "uuid", "path"}
_DIGITS = re.compile(r"(?:\\d|\[0-9\])(?:\+|\{\d+(?:,\d*)?\})")
_TYPED = re.compile(r"<(\w+):(\w+)>")
_ESCAPED_LITERAL = re.compile(r"\\([./-])")


def _as_converters(text: str) -> tuple[str, bool] | None:
    """A regex pattern whose groups all read as converters, in the proxy's Django form, and
    whether it matches exactly the same paths; None when some part stays a regex."""
    exact = True

    def convert(match: re.Match[str]) -> str:
        nonlocal exact
        found = _GROUP_CONVERTERS.get(match.group(2))
        if found is None and _DIGITS.fullmatch(match.group(2)):
            found = ("int", False)  # `[0-9]{6}`: digits, though not any number of them
        if found is None and _SEGMENT_CLASS.fullmatch(match.group(2)):
            found = ("str", False)
        if found is None:
            raise LookupError
        exact = exact and found[1]
        return f"<{found[0]}:{match.group(1)}>"

    try:
        converted = _ESCAPED_LITERAL.sub(r"\1", _NAMED_GROUP.sub(convert, text))
    except LookupError:
        return None
    if _REGEX_CHARS.search(_CONVERTER_TEXT.sub("", converted)) or not _path_last(converted):
        return None
    return "/" + converted, exact


def _path_last(text: str) -> bool:
    """The proxy takes ``<path:...>`` only as the whole last segment."""
    where = text.find("<path:")
    return (
        where < 0
        or (text.rfind("/", 0, where) == where - 1 or where == 0)
        and _CONVERTER_TEXT.fullmatch(text[where:]) is not None
    )


_CONVERTER_TEXT = re.compile(r"<(?:\w+:)?\w+>")


def proxy_match(pattern: str) -> tuple[str, bool]:
    """A Django route pattern as a strangler-proxy match, and whether it matches the same paths.

    Path patterns pass as they are; a regex whose groups are converter-like (``\\d+``,
    ``[^/]+``, ``[-\\w]+``) becomes a converter pattern; any other regex is widened to the
    nearest literal prefix (``exact`` False).
    """
    text = pattern.removeprefix("^").removesuffix("$")
    own = {c for c, _ in _TYPED.findall(text)} - _PROXY_CONVERTERS
    if own:  # the project's own path converters: the proxy reads them as a segment
        text = _TYPED.sub(
            lambda m: f"<{'str' if m.group(1) in own else m.group(1)}:{m.group(2)}>", text
        )
    if not _REGEX_CHARS.search(_CONVERTER_TEXT.sub("", text)) and _path_last(text):
        return "/" + text, not own
    converted = _as_converters(text)
    if converted is not None:
        return converted
    literal = _REGEX_CHARS.split(text.split("<path:", 1)[0], maxsplit=1)[0]
    head = literal[: literal.rfind("/") + 1] if "/" in literal else ""
    return "/" + head + "*", False


def entanglement(coupling: Coupling, assignment: dict[str, str]) -> dict[str, float]:
    """A service's weighted coupling across its boundary (to the shared kernel not counted)."""
    score: dict[str, float] = defaultdict(float)
    for edge in coupling.edges:
        a, b = assignment[edge["source"]], assignment[edge["target"]]
        if a != b and KERNEL not in (a, b):
            w = coupling.edge_weight(edge)
            score[a] += w
            score[b] += w
    return {s: round(score.get(s, 0.0), 2) for s in set(assignment.values()) - {KERNEL}}


def holdings(
    coupling: Coupling, assignment: dict[str, str], scores: dict[str, float]
) -> dict[str, float]:
    """What a service holds: its share of the live routes and tables (one count) plus its share
    of the entanglement."""
    owned: dict[str, int] = defaultdict(int)
    for route in coupling.routes:
        element = route_element(coupling, route)
        if element is not None and not route.get("conditional"):
            owned[assignment[element]] += 1
    for element, service in assignment.items():
        if coupling.elements[element].kind == "model" and coupling.models[element].get("table"):
            owned[service] += 1
    total_owned = sum(owned[s] for s in scores) or 1
    total_e = sum(scores.values()) or 1.0
    return {s: owned[s] / total_owned + scores[s] / total_e for s in scores}


def extraction_order(
    coupling: Coupling, assignment: dict[str, str], extracted: set[str] | frozenset[str]
) -> list[str]:
    """Least entangled first; the service holding the most stays, last."""
    scores = entanglement(coupling, assignment)
    order = sorted((s for s in scores if s not in extracted), key=lambda s: (scores[s], s))
    if len(order) > 1:
        held = holdings(coupling, assignment, scores)
        stays = max(order, key=lambda s: (held[s], scores[s], s))
        order.remove(stays)
        order.append(stays)
    return order


def _atomic_blocks(coupling: Coupling) -> dict[tuple[str, int, str], dict[str, Any]]:
    """Atomic edges regrouped into blocks: one per (file, line, function), with the models written."""
    blocks: dict[tuple[str, int, str], dict[str, Any]] = {}
    for edge in coupling.edges:
        if edge["kind"] != "atomic":
            continue
        for ev in edge["evidence"]:
            key = (ev["file"], int(ev.get("line") or 0), str(ev.get("function") or ""))
            block = blocks.setdefault(
                key, {"module": edge["source"], "writes": set(), "evidence": ev}
            )
            block["writes"].add(edge["target"])
    return blocks


def format_match(match: str) -> str | None:
    """The proxy match for a route's DRF `.<format>` copies (`/api/notes/<str:pk>.<str:format>`
    for `/api/notes/<str:pk>/`), or None where the route's own match is a prefix or the root."""
    base = match.rstrip("/")
    if match.endswith("*") or not base or base.rpartition("/")[2].startswith("<path:"):
        return None
    return base + ".<str:format>"


# Route names the proxy reserves (`figkit routes rollback all`); strangler_proxy.routing
# holds the same set, and a test keeps the two equal.
RESERVED_ROUTE_NAMES = frozenset({"all", "none", "default"})


def _unique_name(text: str, used: set[str], suffix: str = "") -> str:
    base = _NAME_UNSAFE.sub("-", text).strip("-.") or "route"
    name, n = base[: 60 - len(suffix)] + suffix, 2
    while name in used or name.lower() in RESERVED_ROUTE_NAMES:
        name, n = f"{base[: 56 - len(suffix)]}{suffix}-{n}", n + 1
    used.add(name)
    return name


def _route_entry(route: dict[str, Any], service: str, used: set[str]) -> dict[str, Any]:
    match, exact = proxy_match(route["pattern"])
    label = route.get("name") or route["pattern"] or "root"
    entry = {
        "name": _unique_name(label, used),
        "match": match,
        "methods": sorted(route.get("methods") or []),
        "header": None,
        "target": service,
        "mode": "monolith",
    }
    out = {
        "pattern": route["pattern"],
        "view": route.get("view"),
        "methods": entry["methods"],
        "evidence": route.get("evidence"),
        "proxy_route": entry,
        "exact": exact,
    }
    suffixed = format_match(match) if route.get("format_suffix") else None
    if suffixed is not None:  # DRF answers `.json` copies too: they move with the route
        out["format_route"] = {
            **entry,
            "name": _unique_name(label, used, "-fmt"),
            "match": suffixed,
        }
    return out


def make_plan(
    coupling: Coupling,
    assignment: dict[str, str],
    extracted: set[str] | frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    scores = entanglement(coupling, assignment)
    order = extraction_order(coupling, assignment, extracted)
    done: set[str] = set(extracted) | {KERNEL}  # cut out before this step (the kernel: vendored)
    blocks = _atomic_blocks(coupling)
    handled_blocks: set[tuple] = set()
    steps = []
    used_names: set[str] = set()
    for position, service in enumerate(order, 1):
        last = position == len(order)

        def crosses(a: str, b: str, service: str = service) -> bool:
            # An edge is cut at this step when it joins this service to one not cut out before.
            sa, sb = assignment[a], assignment[b]
            return sa != sb and service in (sa, sb) and not ({sa, sb} - {service}) & done

        routes = [
            _route_entry(r, service, used_names)
            for r in coupling.routes
            if (el := route_element(coupling, r)) is not None and assignment[el] == service
        ]
        models = sorted(
            e
            for e, s in assignment.items()
            if s == service and coupling.elements[e].kind == "model"
        )
        cut: dict[str, list[dict[str, Any]]] = {key: [] for key in PLAN_LISTS}
        for edge in coupling.edges:
            a, b, kind = edge["source"], edge["target"], edge["kind"]
            edge_kind = EDGE_KINDS.get(kind)
            # Atomic blocks are regrouped below; a kind with no plan list is not a cut to plan.
            if edge_kind is None or edge_kind.plan_key in (None, "atomic_to_saga"):
                continue
            if not crosses(a, b):
                continue
            other = assignment[b] if assignment[a] == service else assignment[a]
            item = {"source": a, "target": b, "other_service": other, "evidence": edge["evidence"]}
            if edge_kind.plan_key == "cut_relations":
                item["kind"] = kind
            cut[str(edge_kind.plan_key)].append({**item, "becomes": edge_kind.becomes})
        sagas = []
        for key, block in sorted(blocks.items()):
            if key in handled_blocks:
                continue
            involved = {assignment[block["module"]]} | {assignment[m] for m in block["writes"]}
            if service in involved and len(involved) > 1 and not (involved - {service}) & done:
                handled_blocks.add(key)
                sagas.append(
                    {
                        "function": block["evidence"].get("function"),
                        "module": block["module"],
                        "writes": sorted(block["writes"]),
                        "services": sorted(involved),
                        "evidence": block["evidence"],
                        "becomes": EDGE_KINDS["atomic"].becomes,
                    }
                )
        steps.append(
            {
                "order": position,
                "service": service,
                "stays_in_monolith": last and len(order) > 1,
                "entanglement": scores[service],
                "routes": routes,
                "route_file": {
                    "routes": [
                        route
                        for r in routes
                        for route in (r["proxy_route"], r.get("format_route"))
                        if route
                    ]
                },
                "models": models,
                "tables": sorted({t for m in models if (t := coupling.models[m].get("table"))}),
                **{key: items for key, items in cut.items() if key != "atomic_to_saga"},
                "atomic_to_saga": sagas,
            }
        )
        done.add(service)
    return steps
