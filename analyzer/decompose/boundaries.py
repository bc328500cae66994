"""Suggest service boundaries: Louvain community detection over the weighted coupling graph.

Before clustering, roles are set apart (analyzer/decompose/roles.py): the shared kernel is a
library, not a service; an API layer over every domain, a client of many (an importer), the
user model's app and a dominant reference hub are services of their own; apps that sit
together in one sub-package start as one group; and every edge into an element is divided by
the square root of the number of apps pointing at it, so a hub does not glue unrelated apps.
After clustering, a service is named after its dominant app (live routes and tables), and a
service with no route is merged into the one it is most coupled with unless it owns tables.

Groups (apps, modules or single elements, by granularity) are clustered with networkx's
Louvain at a range of resolutions under a fixed seed; each candidate is scored on the
element graph by the objective (weighted modularity), next to the one-service-per-app
baseline, which is always a candidate too. The user's constraints hold in every
candidate: elements pinned together are merged before clustering, already-extracted
services are fixed, and elements pinned apart are separated afterwards.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from analyzer.decompose.coupling import KERNEL, Coupling, Granularity, route_element
from analyzer.decompose.roles import (
    AppProfile,
    Roles,
    find_roles,
    hubs,
    profiles,
    reference_counts,
)
from analyzer.decompose.settle import (
    Dominance,
    code_to_data,
    dominance,
    join_identity,
    name_services,
    rename,
    routeless,
)
from analyzer.errors import AnalyzerError

# Modularity is flat near its peak: splits within 2% of the best are as good on the objective,
# and the fewest services among them is the one to offer (the "one standard error" habit).
NEAR_BEST = 0.02
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
    roles: bool = True  # set the shared kernel and API layers apart, divide hub edges


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
    kernel: dict[str, str] = field(default_factory=dict)  # kernel app -> why
    notes: dict[str, str] = field(default_factory=dict)  # service -> what to know about it
    hubs: list[str] = field(default_factory=list)
    profiles: dict[str, AppProfile] = field(default_factory=dict)


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


def _pairs_modularity(pairs: list[tuple[str, str, float]], assignment: dict[str, str]) -> float:
    """Newman's weighted modularity of `assignment` on a list of weighted pairs (see metrics.modularity)."""
    m = sum(w for _, _, w in pairs)
    if m == 0:
        return 0.0
    inside: dict[str, float] = defaultdict(float)
    degree: dict[str, float] = defaultdict(float)
    for a, b, w in pairs:
        sa, sb = assignment[a], assignment[b]
        if sa == sb:
            inside[sa] += w
        degree[sa] += w
        degree[sb] += w
    return sum(inside[c] / m - (degree[c] / (2 * m)) ** 2 for c in degree)


def _clustering_pairs(
    coupling: Coupling, kept: set[str], hub_degree: dict[str, int]
) -> list[tuple[str, str, float]]:
    """The element graph that clustering reads: kernel elements left out, and each edge divided by
    the square root of how many apps point at its target, so a hub's pull is shared among the
    apps that use it. The square root, not the count: the strongest hubs (the user model, a
    dominant reference hub) are set apart before clustering, and dividing what is left by the
    full count cut apps off the moderately shared models of their own domain (measured on the
    expert splits, bench/RESULTS.md)."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    for edge in coupling.edges:
        a, b = edge["source"], edge["target"]
        if a in kept and b in kept:
            key = (a, b) if a < b else (b, a)
            weights[key] += coupling.edge_weight(edge) / math.sqrt(max(1, hub_degree.get(b, 1)))
    return [(a, b, w) for (a, b), w in sorted(weights.items())]


def _set_aside(
    coupling: Coupling, options: Options, named: set[str]
) -> tuple[Roles | None, dict[str, str]]:
    """Elements that are not clustered: the shared kernel, API layers (and what the user extracted)."""
    fixed: dict[str, str] = {}
    for service, names in options.extracted.items():
        for name in names:
            for element in resolve(coupling, name):
                fixed[element] = service
    if not options.roles:
        return None, fixed
    roles = find_roles(coupling)
    for app in [*roles.kernel, *roles.gateway, *roles.identity, *roles.reference]:
        if app in named:  # the user decides for it
            for role in (roles.kernel, roles.gateway, roles.identity, roles.reference):
                role.pop(app, None)
    for el in coupling.elements.values():
        if el.id in fixed:
            continue
        if el.app in roles.kernel:
            fixed[el.id] = KERNEL
        elif el.app in roles.gateway or el.app in roles.identity or el.app in roles.reference:
            fixed[el.id] = el.app
    return roles, fixed


@dataclass
class _Setup:
    """What every candidate shares: the user's constraints, the roles, the graph clustered."""

    apart: list[tuple[set[str], set[str]]]
    roles: Roles | None
    fixed: dict[
        str, str
    ]  # element -> service, never clustered (extracted, kernel, API layer, identity)
    weight_of: Dominance
    pairs: list[tuple[str, str, float]]  # the clustering graph, element level
    graph: nx.Graph  # the same, folded into groups
    members: dict[str, set[str]]  # group -> its elements
    folded: bool  # some groups were folded (pinned together, or a package family)


def _constraints(
    coupling: Coupling, options: Options
) -> tuple[list[set[str]], list[tuple[set[str], set[str]]], set[str]]:
    """Elements pinned together, pairs pinned apart, and every app the user named."""
    together = [set().union(*(resolve(coupling, n) for n in group)) for group in options.together]
    apart = [(resolve(coupling, a), resolve(coupling, b)) for a, b in options.apart]
    for first, second in apart:
        if first & second:
            raise AnalyzerError(
                f"the figkit config pins {sorted(first & second)} both together and apart"
            )
    pinned = [*together, *(x for pair in apart for x in pair)]
    pinned += [resolve(coupling, n) for names in options.extracted.values() for n in names]
    return together, apart, {coupling.elements[e].app for group in pinned for e in group}


def _setup(coupling: Coupling, options: Options) -> _Setup:
    together, apart, named = _constraints(coupling, options)
    roles, fixed = _set_aside(coupling, options, named)
    kernel = {e for e, s in fixed.items() if s == KERNEL}
    pairs = _clustering_pairs(
        coupling, set(coupling.elements) - kernel, reference_counts(coupling) if roles else {}
    )
    # Groups at the chosen granularity, folded further where the user pinned them together
    # and, at app granularity, where apps share a sub-package.
    group_of = {
        e: coupling.group_of(e, options.granularity) for e in coupling.elements if e not in fixed
    }
    folds = [
        {e for e in group_of if coupling.elements[e].app in apps}
        for apps in _package_families(roles, options)
    ]
    merge: dict[str, str] = {}
    for pinned in [*together, *folds]:
        groups = sorted({group_of[e] for e in pinned if e in group_of})
        for group in groups[1:]:
            merge[group] = groups[0]

    def root(group: str) -> str:
        while group in merge:
            group = merge[group]
        return group

    node_of = {e: root(g) for e, g in group_of.items()}
    graph = nx.Graph()
    graph.add_nodes_from(sorted(set(node_of.values())))  # Louvain under a seed: one order
    # The group graph keeps each group's inside weight as a self-loop: community detection on
    # it then scores exactly the element graph's modularity. Without them a group looks loose
    # and Louvain glues cohesive apps together through their shared hubs.
    for a, b, w in pairs:
        if a in node_of and b in node_of:
            x, y = node_of[a], node_of[b]
            graph.add_edge(x, y, weight=graph[x][y]["weight"] + w if graph.has_edge(x, y) else w)
    members: dict[str, set[str]] = defaultdict(set)
    for element, node in node_of.items():
        members[node].add(element)
    return _Setup(
        apart=apart,
        roles=roles,
        fixed=fixed,
        weight_of=dominance(roles.profiles if roles else profiles(coupling)),
        pairs=pairs,
        graph=graph,
        members=members,
        folded=bool(merge),
    )


def _community_runs() -> list[tuple[str, float]]:
    """Louvain at every resolution on the group graph, with and without each group's inside
    weight, and greedy agglomeration (Clauset-Newman-Moore) at a few resolutions.

    With the inside weight (self-loops) the group graph scores exactly the element graph's
    modularity. Without it groups look loose and merge through shared hubs: coarser splits,
    which are kept as candidates since the choice below scores every candidate on the element
    graph anyway. Louvain moves one group at a time and can stop where only merging two
    whole groups pays (kinds of work item tied to each other and to a shared project hub);
    greedy agglomeration merges whole groups, so it finds those."""
    return (
        [("louvain", r) for r in RESOLUTIONS]
        + [("louvain-loose", r) for r in RESOLUTIONS]
        + [("greedy", r) for r in (0.5, 1.0, 1.5, 2.0)]
    )


def _loose(graph: nx.Graph) -> nx.Graph:
    """The group graph without its self-loops."""
    loose = graph.copy()
    loose.remove_edges_from(list(nx.selfloop_edges(loose)))
    return loose


def _candidates(coupling: Coupling, options: Options, setup: _Setup) -> list[dict[str, str]]:
    """One split per Louvain resolution (merged down to --services N if asked), then per group."""
    element_graph = coupling.element_graph()
    fixed, apart = setup.fixed, setup.apart
    taken = set(options.extracted) | set(fixed.values())
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

    loose = _loose(setup.graph)
    for method, resolution in _community_runs():
        communities = (
            nx.community.greedy_modularity_communities(
                setup.graph, weight="weight", resolution=resolution
            )
            if method == "greedy"
            else nx.community.louvain_communities(
                loose if method == "louvain-loose" else setup.graph,
                weight="weight", resolution=resolution, seed=options.seed,
            )
        )  # fmt: skip
        parts = [set().union(*(setup.members[n] for n in community)) for community in communities]
        assignment = {**fixed, **name_services(coupling, parts, set(taken), setup.weight_of)}
        _attach_loners(coupling, assignment, element_graph)
        _separate(coupling, assignment, apart)
        add(assignment)
        if options.services and len(set(assignment.values()) - {KERNEL}) > options.services:
            merged = _merge_down(
                coupling,
                assignment,
                element_graph,
                options.services + (KERNEL in fixed.values()),
                set(options.extracted) | {KERNEL},
            )
            _separate(coupling, merged, apart)
            add(merged)
    if not options.together and not options.apart and not options.extracted:
        if fixed or setup.folded:  # per group: kernel, API layers, package families set apart
            add(_per_group(coupling, options, setup))
        else:  # the baseline is a fair candidate when no constraint or role rules it out
            add(per_app(coupling))
    return candidates


def _per_group(coupling: Coupling, options: Options, setup: _Setup) -> dict[str, str]:
    """One service per group (app, with package families folded) plus what was set aside."""
    taken = set(options.extracted) | set(setup.fixed.values())
    groups = list(setup.members.values())
    return {**setup.fixed, **name_services(coupling, groups, taken, setup.weight_of)}


def _count(assignment: dict[str, str]) -> int:
    return len(set(assignment.values()) - {KERNEL})


def _choose(
    candidates: list[dict[str, str]], pairs: list[tuple[str, str, float]], target: int | None
) -> tuple[float, dict[str, str]]:
    """The best candidate on the objective (nearest to `target` services first, if given); with
    no target, the fewest services within NEAR_BEST of the best."""
    pool = candidates
    if target:
        best_gap = min(abs(_count(a) - target) for a in candidates)
        pool = [a for a in candidates if abs(_count(a) - target) == best_gap]
    scored = [(_pairs_modularity(pairs, a), a) for a in pool]
    score, chosen = max(scored, key=lambda item: (item[0], -_count(item[1])))
    if not target:
        near = [item for item in scored if item[0] >= score - NEAR_BEST * abs(score)]
        score, chosen = min(near, key=lambda item: (_count(item[1]), -item[0]))
    return score, dict(chosen)


def _settle(
    coupling: Coupling, options: Options, setup: _Setup, chosen: dict[str, str]
) -> dict[str, str]:
    """After clustering: identity satellites join, route-less services merge, names are given
    again. Returns the notes per service."""
    roles, fixed = setup.roles, setup.fixed
    if roles is None:
        return {}
    # Identity satellites (token stores, profiles) join it. A reference hub's do not: the
    # domains that hang off it (work items, a wiki) are what it was set apart from.
    for identity in roles.identity:
        join_identity(coupling, chosen, identity, set(fixed.values()), set(roles.package_of))
    # Code without tables goes where its data is (a front end over another app's models).
    roles_apps = {*roles.kernel, *roles.gateway, *roles.identity, *roles.reference}
    code_to_data(
        coupling,
        chosen,
        roles.profiles,
        roles_apps | set(roles.package_of) | _constraints(coupling, options)[2],
        {KERNEL, *roles.gateway},
    )
    notes = routeless(coupling, chosen, set(options.extracted) | {KERNEL} | set(roles.gateway))
    families: dict[str, set[str]] = defaultdict(set)
    for app, package in roles.package_of.items():
        families[package].add(app)
    notes = rename(coupling, chosen, notes, set(fixed.values()), setup.weight_of, families)
    for app, why in [*roles.gateway.items(), *roles.identity.items(), *roles.reference.items()]:
        notes[app] = (why + " " + notes.get(app, "")).strip()
    return notes


def suggest(coupling: Coupling, options: Options) -> Suggestion:
    if not coupling.elements:
        raise AnalyzerError("no models or modules of the project's own apps to split")
    setup = _setup(coupling, options)
    candidates = _candidates(coupling, options, setup)
    _, chosen = _choose(candidates, setup.pairs, options.services)
    notes = _settle(coupling, options, setup, chosen)
    score = _pairs_modularity(setup.pairs, chosen)  # after the moves of _settle
    baseline = per_app(coupling)
    # Judged against per-app with the same roles applied (kernel, API layers, identity, package
    # families set apart): the roles are rules, not something modularity must pay for again.
    fair = _per_group(coupling, options, setup) if setup.roles else baseline
    baseline_score = _pairs_modularity(setup.pairs, fair)
    offered, note = True, ""
    if options.services and _count(chosen) != options.services:
        note = f"no split with exactly {options.services} services was found; the nearest has {_count(chosen)}. "
    if all(chosen[e] == baseline[e] for e in chosen):
        note += "No split found beats one service per app on modularity; the suggestion is the per-app split."
    elif score < baseline_score:
        offered = False
        note += (
            f"The best split with {_count(chosen)} services has modularity {score:.3f}, below the "
            f"per-app split's {baseline_score:.3f}"
            + (" (with the same kernel, API layers and families set apart)" if setup.roles else "")
            + ": it is shown for comparison, not offered."
        )
    roles = setup.roles
    return Suggestion(
        assignment=chosen,
        baseline=baseline,
        objective="modularity",
        score=score,
        baseline_score=baseline_score,
        offered=offered,
        note=note.strip(),
        candidates=len(candidates),
        kernel=dict(roles.kernel) if roles else {},
        notes=notes,
        hubs=[
            h
            for h in hubs(coupling, roles.profiles)
            if h not in roles.identity and h not in roles.reference
        ]
        if roles
        else [],
        profiles=roles.profiles if roles else {},
    )


def _package_families(roles: Roles | None, options: Options) -> list[set[str]]:
    """Apps grouped by the sub-package they share (app granularity only)."""
    if roles is None or options.granularity != "app":
        return []
    families: dict[str, set[str]] = defaultdict(set)
    for app, package in roles.package_of.items():
        if app not in roles.kernel and app not in roles.gateway:
            families[package].add(app)
    return [apps for _, apps in sorted(families.items()) if len(apps) > 1]


def services_json(
    coupling: Coupling,
    assignment: dict[str, str],
    extracted: set[str],
    suggestion: Suggestion | None = None,
) -> list[dict[str, Any]]:
    """The contract's `services`: what each suggested service would own; the shared kernel is an
    entry of kind "shared_kernel" (a library, counted as no service)."""
    routes_by_service: dict[str, list[str]] = defaultdict(list)
    for route in coupling.routes:
        element = route_element(coupling, route)
        if element is not None:
            routes_by_service[assignment[element]].append(route["pattern"])
    notes = suggestion.notes if suggestion else {}
    hub_apps = set(suggestion.hubs) if suggestion else set()
    out = []
    for name in sorted(set(assignment.values())):
        elements = [e for e, s in assignment.items() if s == name]
        models = sorted(e for e in elements if coupling.elements[e].kind == "model")
        apps = Counter(coupling.elements[e].app for e in elements)
        tables = sorted({t for m in models if (t := coupling.models[m].get("table"))})
        entry: dict[str, Any] = {
            "name": name,
            "kind": "shared_kernel" if name == KERNEL else "service",
            "apps": sorted(apps, key=lambda a: (-apps[a], a)),
            "models": models,
            "modules": sorted(e for e in elements if coupling.elements[e].kind == "module"),
            "tables": tables,
            "routes": sorted(routes_by_service.get(name, [])),
            "extracted": name in extracted,
        }
        note = notes.get(name, "")
        if name == KERNEL and suggestion:
            note = "A library to vendor or publish, not a service: " + "; ".join(
                f"{app}: {why}" for app, why in sorted(suggestion.kernel.items())
            )
        held = sorted(hub_apps & set(apps))
        if held and name != KERNEL and suggestion:
            note = (
                "; ".join(
                    f"{app} is referenced by foreign keys from "
                    f"{len(suggestion.profiles[app].referenced_by)} apps"
                    for app in held
                )
                + ": reference data that other services hold by id. "
                + note
            ).strip()
        if note:
            entry["note"] = note
        if not entry["routes"] and name != KERNEL:
            entry["no_routes"] = True
        out.append(entry)
    return out
