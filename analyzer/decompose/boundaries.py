"""Suggest service boundaries: Louvain community detection over the weighted coupling graph.

Groups (apps, modules or single elements, by granularity) are clustered with networkx's
Louvain at a range of resolutions under a fixed seed; each candidate is scored on the
element graph by the objective (weighted modularity), next to the one-service-per-app
baseline, which is always a candidate too. The user's constraints hold in every
candidate: elements pinned together are merged before clustering, already-extracted
services are fixed, and elements pinned apart are separated afterwards.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from analyzer.decompose.coupling import Coupling, Granularity
from analyzer.decompose.metrics import modularity
from analyzer.errors import AnalyzerError

RESOLUTIONS = tuple(round(0.1 * 1.25**i, 4) for i in range(22))  # 0.1 .. about 10.8


@dataclass(frozen=True)
class Options:
    granularity: Granularity = "app"
    services: int | None = None
    seed: int = 42
    together: tuple[tuple[str, ...], ...] = ()
    apart: tuple[tuple[str, str], ...] = ()
    extracted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


@dataclass
class Suggestion:
    assignment: dict[str, str]  # element -> service name
    baseline: dict[str, str]  # element -> its app
    objective: str
    score: float
    baseline_score: float
    offered: bool
    note: str
    candidates: int


def resolve(coupling: Coupling, name: str) -> set[str]:
    """The elements a constraint names: an app label, a model label or a module."""
    if name in coupling.apps:
        return {e.id for e in coupling.elements.values() if e.app == name}
    if name in coupling.elements:
        return {name}
    raise AnalyzerError(
        f"the figkit config names {name!r}, which is no app, model or module of this project; "
        "fix [tool.figkit] (app labels such as 'orders', models such as 'orders.Order')"
    )


def per_app(coupling: Coupling) -> dict[str, str]:
    return {e.id: e.app for e in coupling.elements.values()}


def _name_services(coupling: Coupling, parts: list[set[str]], taken: set[str]) -> dict[str, str]:
    assignment: dict[str, str] = {}
    for part in sorted(parts, key=lambda p: (-len(p), sorted(p)[0])):
        apps = Counter(coupling.elements[e].app for e in part)
        base = sorted(apps, key=lambda a: (-apps[a], a))[0]
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        for element in part:
            assignment[element] = name
    return assignment


def _separate(
    coupling: Coupling, assignment: dict[str, str], apart: list[tuple[set[str], set[str]]]
) -> None:
    """Move the second of each pair pinned apart out of the first's service, to its next best."""
    if not apart:
        return
    graph = coupling.element_graph()
    for first, second in apart:
        shared = {assignment[e] for e in first} & {assignment[e] for e in second}
        if not shared:
            continue
        ties: Counter[str] = Counter()
        for element in second:
            for neighbour, data in graph[element].items():
                service = assignment[neighbour]
                if neighbour not in second and service not in shared:
                    ties[service] += data["weight"]
        if ties:
            target = ties.most_common(1)[0][0]
        else:
            app = Counter(coupling.elements[e].app for e in second).most_common(1)[0][0]
            target, n = app, 2
            while target in assignment.values():
                target, n = f"{app}-{n}", n + 1
        for element in second:
            assignment[element] = target


def _attach_loners(coupling: Coupling, assignment: dict[str, str], graph: nx.Graph) -> None:
    """Elements with no coupling at all (apps.py, an empty admin) join the service holding most of their app."""
    home: dict[str, Counter[str]] = defaultdict(Counter)
    for element, service in assignment.items():
        if graph.degree(element):
            home[coupling.elements[element].app][service] += 1
    for element in assignment:
        if not graph.degree(element) and home[coupling.elements[element].app]:
            assignment[element] = home[coupling.elements[element].app].most_common(1)[0][0]


def _merge_down(
    coupling: Coupling, assignment: dict[str, str], graph: nx.Graph, target: int, fixed: set[str]
) -> dict[str, str]:
    """Merge the pair of services whose union gains the most modularity, until `target` are left."""
    assignment = dict(assignment)
    total = graph.size(weight="weight") or 1.0
    while len(set(assignment.values())) > target:
        between: Counter[tuple[str, str]] = Counter()
        degree: Counter[str] = Counter()
        for a, b, data in graph.edges(data=True):
            sa, sb = assignment[a], assignment[b]
            degree[sa] += data["weight"]
            degree[sb] += data["weight"]
            if sa != sb:
                between[(min(sa, sb), max(sa, sb))] += data["weight"]
        names = sorted(set(assignment.values()) - fixed)
        best, gain = None, float("-inf")
        for i, x in enumerate(names):
            for y in names[i + 1 :]:
                g = between[(x, y)] / total - degree[x] * degree[y] / (2 * total * total)
                if g > gain:
                    best, gain = (x, y), g
        if best is None:
            break
        keep, drop = best
        for element, service in assignment.items():
            if service == drop:
                assignment[element] = keep
    return assignment


def suggest(coupling: Coupling, options: Options) -> Suggestion:
    if not coupling.elements:
        raise AnalyzerError("no models or modules of the project's own apps to split")
    fixed: dict[str, str] = {}
    for service, names in options.extracted.items():
        for name in names:
            for element in resolve(coupling, name):
                fixed[element] = service
    together = [set().union(*(resolve(coupling, n) for n in group)) for group in options.together]
    apart = [(resolve(coupling, a), resolve(coupling, b)) for a, b in options.apart]
    for first, second in apart:
        if first & second:
            raise AnalyzerError(
                f"the figkit config pins {sorted(first & second)} both together and apart"
            )

    # Groups at the chosen granularity, folded further where the user pinned them together.
    group_of = {
        e: coupling.group_of(e, options.granularity) for e in coupling.elements if e not in fixed
    }
    merge: dict[str, str] = {}
    for members in together:
        groups = sorted({group_of[e] for e in members if e in group_of})
        for group in groups[1:]:
            merge[group] = groups[0]

    def root(group: str) -> str:
        while group in merge:
            group = merge[group]
        return group

    node_of = {e: root(g) for e, g in group_of.items()}
    graph = nx.Graph()
    graph.add_nodes_from(
        sorted(set(node_of.values()))
    )  # sorted: Louvain under a seed must see one order
    for edge in coupling.edges:
        a, b = edge["source"], edge["target"]
        if a in node_of and b in node_of:
            x, y = node_of[a], node_of[b]
            w = coupling.edge_weight(edge)
            graph.add_edge(x, y, weight=graph[x][y]["weight"] + w if graph.has_edge(x, y) else w)

    members: dict[str, set[str]] = defaultdict(set)
    for element, node in node_of.items():
        members[node].add(element)

    baseline = per_app(coupling)
    baseline_score = modularity(coupling, baseline)
    element_graph = coupling.element_graph()
    candidates: list[dict[str, str]] = []
    seen: set[frozenset] = set()

    def add(assignment: dict[str, str]) -> None:
        key = frozenset(
            frozenset(e for e, s in assignment.items() if s == name)
            for name in set(assignment.values())
        )
        if key not in seen:
            seen.add(key)
            candidates.append(assignment)

    for resolution in RESOLUTIONS:
        communities = nx.community.louvain_communities(
            graph, weight="weight", resolution=resolution, seed=options.seed
        )
        parts = [set().union(*(members[n] for n in community)) for community in communities]
        assignment = {**fixed, **_name_services(coupling, parts, set(options.extracted))}
        _attach_loners(coupling, assignment, element_graph)
        _separate(coupling, assignment, apart)
        add(assignment)
        if options.services and len(set(assignment.values())) > options.services:
            merged = _merge_down(
                coupling, assignment, element_graph, options.services, set(options.extracted)
            )
            _separate(coupling, merged, apart)
            add(merged)
    if not options.together and not options.apart and not options.extracted:
        candidates.append(
            baseline
        )  # the baseline is a fair candidate when no constraint rules it out

    def count(a: dict[str, str]) -> int:
        return len(set(a.values()))

    pool = candidates
    if options.services:
        best_gap = min(abs(count(a) - options.services) for a in candidates)
        pool = [a for a in candidates if abs(count(a) - options.services) == best_gap]
    scored = [(modularity(coupling, a), a) for a in pool]
    score, chosen = max(scored, key=lambda item: (item[0], -count(item[1])))
    offered, note = True, ""
    if options.services and count(chosen) != options.services:
        note = f"no split with exactly {options.services} services was found; the nearest has {count(chosen)}. "
    if chosen is baseline:
        note += "No split found beats one service per app on modularity; the suggestion is the per-app split."
    elif score < baseline_score:
        offered = False
        note += (
            f"The best split with {count(chosen)} services has modularity {score:.3f}, below the per-app "
            f"split's {baseline_score:.3f}: it is shown for comparison, not offered."
        )
    return Suggestion(
        assignment=chosen,
        baseline=baseline,
        objective="modularity",
        score=score,
        baseline_score=baseline_score,
        offered=offered,
        note=note.strip(),
        candidates=len(candidates),
    )


def services_json(
    coupling: Coupling, assignment: dict[str, str], extracted: set[str]
) -> list[dict[str, Any]]:
    """The contract's `services`: what each suggested service would own."""
    from analyzer.decompose.coupling import route_element

    routes_by_service: dict[str, list[str]] = defaultdict(list)
    for route in coupling.routes:
        element = route_element(coupling, route)
        if element is not None:
            routes_by_service[assignment[element]].append(route["pattern"])
    out = []
    for name in sorted(set(assignment.values())):
        elements = [e for e, s in assignment.items() if s == name]
        models = sorted(e for e in elements if coupling.elements[e].kind == "model")
        apps = Counter(coupling.elements[e].app for e in elements)
        tables = sorted({t for m in models if (t := coupling.models[m].get("table"))})
        out.append(
            {
                "name": name,
                "apps": sorted(apps, key=lambda a: (-apps[a], a)),
                "models": models,
                "modules": sorted(e for e in elements if coupling.elements[e].kind == "module"),
                "tables": tables,
                "routes": sorted(routes_by_service.get(name, [])),
                "extracted": name in extracted,
            }
        )
    return out
