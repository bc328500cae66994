"""After clustering: the names of services and the moves an architect would still make.

Identity satellites (token stores, profiles) join the user model's app; a service that serves no
route is merged into the one it is most coupled with unless it owns tables; every service is
named after its dominant domain (the app with most live routes and tables, never one whose
routes are all switched off), or after the sub-package of the sibling apps that make it up.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from analyzer.decompose.coupling import KERNEL, Coupling, route_element
from analyzer.decompose.roles import DATA_KINDS, IDENTITY_NAMES, AppProfile

Dominance = dict[str, tuple[int, int, int]]


def dominance(profiles: dict[str, AppProfile]) -> Dominance:
    """How much an app weighs in naming its service: apps whose routes are all off (under a
    settings condition) come last, then by live routes plus tables."""
    return {
        app: (
            int(p.live_routes > 0 or p.conditional_routes == 0),
            p.live_routes + p.tables,
            p.tables,
        )
        for app, p in profiles.items()
    }


def name_services(
    coupling: Coupling,
    parts: list[set[str]],
    taken: set[str],
    dominance: Dominance | None = None,
    families: dict[str, set[str]] | None = None,
) -> dict[str, str]:
    """Name each part after its dominant domain: the app with most live routes and tables in it,
    or the sub-package of a family of sibling apps that makes up most of it (`integrations`)."""
    dominance = dominance or {}
    assignment: dict[str, str] = {}
    for part in sorted(parts, key=lambda p: (-len(p), sorted(p)[0])):
        apps = Counter(coupling.elements[e].app for e in part)
        base = sorted(
            apps, key=lambda a: (*(-x for x in dominance.get(a, (0, 0, 0))), -apps[a], a)
        )[0]
        for package, members in sorted((families or {}).items()):
            label = package.rpartition(".")[2]
            if members <= set(apps) and len(members) * 2 > len(apps) and label not in coupling.apps:
                base = label
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        for element in part:
            assignment[element] = name
    return assignment


def _ties(
    coupling: Coupling, assignment: dict[str, str]
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Each app's coupling to each service (other apps only), and inside the app itself."""
    ties: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    inside: dict[str, float] = defaultdict(float)
    for edge in coupling.edges:
        a, b = coupling.elements[edge["source"]].app, coupling.elements[edge["target"]].app
        w = coupling.edge_weight(edge)
        if a == b:
            inside[a] += w
            continue
        ties[a][assignment[edge["target"]]] += w
        ties[b][assignment[edge["source"]]] += w
    return ties, inside


def _move(coupling: Coupling, assignment: dict[str, str], apps: set[str], service: str) -> None:
    for element in assignment:
        if coupling.elements[element].app in apps:
            assignment[element] = service


def join_identity(
    coupling: Coupling,
    assignment: dict[str, str],
    identity: str,
    fixed: set[str],
    family: set[str],
) -> None:
    """Apps that are mostly about users (token stores, profiles, per-user settings) join the
    identity service: their tie to it is stronger than to any other service (the kernel and
    API layers aside) and than the coupling inside the app itself. Before them, sign-in code
    by its name (an `auth` package with the login views, see IDENTITY_NAMES) joins it when it
    is tied to it or to nothing, so that the apps tied to it (a token store) follow."""
    service_of = {coupling.elements[e].app: s for e, s in assignment.items()}
    ties, inside = _ties(coupling, assignment)
    named = {
        app
        for app, own in service_of.items()
        if app.lower() in IDENTITY_NAMES
        and own not in fixed
        and app not in family
        and (ties[app].get(identity, 0.0) > 0 or not ties[app])
    }
    if named:
        _move(coupling, assignment, named, identity)
        service_of = {coupling.elements[e].app: s for e, s in assignment.items()}
        ties, inside = _ties(coupling, assignment)
    moving = set()
    for app, counts in sorted(ties.items()):
        own = service_of.get(app)
        if own is None or own in fixed or app in family:
            continue  # a member of a package family moves with its family
        to_identity = counts.get(identity, 0.0)
        others = [w for s, w in counts.items() if s not in fixed]
        if to_identity > inside[app] and to_identity > max(others, default=0.0):
            moving.add(app)
    _move(coupling, assignment, moving, identity)


def code_to_data(
    coupling: Coupling,
    assignment: dict[str, str],
    profiles: dict[str, AppProfile],
    stay: set[str],
    closed: set[str],
) -> list[str]:
    """An app that owns no table (its views, forms, reports) goes with the data it works on: to
    the service whose tables it reads and writes most (data kinds only), when that is not its
    own. Apps in `stay` do not move (roles, package families, what the user named); services
    in `closed` take nobody in (the kernel, API layers). Returns the apps moved."""
    service_of = {coupling.elements[e].app: s for e, s in assignment.items()}
    ties: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for edge in coupling.edges:
        if edge["kind"] not in DATA_KINDS:
            continue
        app = coupling.elements[edge["source"]].app
        target = edge["target"]
        if coupling.elements[target].app != app and assignment[target] not in closed:
            ties[app][assignment[target]] += coupling.edge_weight(edge)
    moved = []
    for app, counts in sorted(ties.items()):
        if profiles[app].tables or app in stay or service_of.get(app) in closed:
            continue
        (target, weight), *rest = sorted(counts.items(), key=lambda kv: -kv[1])[:2]
        if target != service_of[app] and (not rest or weight > rest[0][1]):
            moved.append(app)
            for element in assignment:
                if coupling.elements[element].app == app:
                    assignment[element] = target
    return moved


def routeless(
    coupling: Coupling,
    assignment: dict[str, str],
    protected: set[str],
) -> dict[str, str]:
    """Services that serve no route: merged into the service they are most coupled with when they
    own no table; kept, with a note saying why, when they do (a worker or a domain served
    through another's API). Returns service -> note."""
    served: set[str] = set()
    for route in coupling.routes:
        element = route_element(coupling, route)
        if element is not None and not route.get("conditional"):
            served.add(assignment[element])
    graph = coupling.element_graph()
    notes: dict[str, str] = {}
    for service in sorted(set(assignment.values()) - served - protected):
        members = [e for e, s in assignment.items() if s == service]
        tables = sum(
            1
            for e in members
            if coupling.elements[e].kind == "model" and coupling.models[e].get("table")
        )
        ties: Counter[str] = Counter()
        for element in members:
            for neighbour, data in graph[element].items():
                other = assignment[neighbour]
                if other != service and other not in protected | {KERNEL}:
                    ties[other] += data["weight"]
        if tables:
            reach = f"; most coupled with {_strongest(ties)}" if ties else ""
            notes[service] = (
                f"serves no route but owns {tables} table(s): kept as a service whose data is reached "
                f"through other services' APIs, or a worker (tasks, signals){reach}"
            )
        elif ties:
            target = _strongest(ties)
            for element in members:
                assignment[element] = target
            notes[target] = (
                notes.get(target, "") + f" Took in {service} (no route, no table)."
            ).strip()
        else:
            notes[service] = (
                "serves no route, owns no table and is coupled to nothing: code to retire or vendor"
            )
    return notes


def rename(
    coupling: Coupling,
    assignment: dict[str, str],
    notes: dict[str, str],
    keep: set[str],
    dominance: Dominance,
    families: dict[str, set[str]] | None = None,
) -> dict[str, str]:
    """Name every service again after its dominant app, once apps have moved; returns the notes
    under the new names."""
    parts: dict[str, set[str]] = defaultdict(set)
    for element, service in assignment.items():
        if service not in keep:
            parts[service].add(element)
    renamed = name_services(coupling, list(parts.values()), set(keep), dominance, families)
    old_name = {renamed[next(iter(members))]: old for old, members in parts.items()}
    assignment.update(renamed)
    return {
        **{n: note for n, note in notes.items() if n in keep},
        **{new: notes[old] for new, old in old_name.items() if old in notes},
    }


def _strongest(ties: Counter[str]) -> str:
    """The service with the most weight, ties broken by name: Counter.most_common keeps the
    order the graph was walked in, which follows Python's hash seed. Sums are rounded first, as
    the order of a float sum changes its last bits."""
    return min(ties, key=lambda name: (-round(ties[name], 9), name))
