"""The coupling graph the decomposition works on, read from the analysis.json contract.

Elements are the project's own models ("app.Model") and modules (dotted names); edges
touching a third-party app (auth.User, contenttypes) are left out of the partition, since
that code moves with no service. Everything here is plain data built from the contract,
so `figkit plan analysis.json` re-plans without parsing the code again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from analyzer.edge_kinds import default_weights

Granularity = Literal["app", "module", "model"]

KERNEL = "shared-kernel"  # the shared kernel's group in an assignment: a library, no service

# Default weight of one kind of coupling: what it costs to cut it (analyzer/edge_kinds.py).
DEFAULT_WEIGHTS: dict[str, float] = default_weights()


@dataclass(frozen=True)
class Element:
    id: str
    kind: Literal["model", "module"]
    app: str


@dataclass
class Coupling:
    elements: dict[str, Element]
    edges: list[dict[str, Any]]  # the contract's edges between two elements
    models: dict[str, dict[str, Any]]  # label -> the contract's model
    apps: dict[str, dict[str, Any]]  # label -> the contract's app (project apps only)
    routes: list[dict[str, Any]]
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    user_app: str | None = None  # the own app holding settings.AUTH_USER_MODEL, if any

    def edge_weight(self, edge: dict[str, Any]) -> float:
        """Kind weight times (1 + ln(places seen)): more places count, with diminishing returns."""
        return self.weights.get(edge["kind"], 1.0) * (1.0 + math.log(max(1, int(edge["weight"]))))

    def group_of(self, element: str, granularity: Granularity) -> str:
        el = self.elements[element]
        if granularity == "app":
            return el.app
        if granularity == "model" or el.kind == "module":
            return element
        return self.model_module(element)

    def model_module(self, label: str) -> str:
        """The module that defines a model, from its file: catalog/models.py -> pkg.catalog.models."""
        model = self.models[label]
        app = self.apps[model["app"]]
        file, path = model.get("file") or "", app.get("path") or ""
        rel = (
            file[len(path) + 1 :]
            if path and file.startswith(path + "/")
            else file.rsplit("/", 1)[-1]
        )
        dotted = rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        module = f"{app['name']}.{dotted}" if dotted and dotted != "__init__" else app["name"]
        return module

    def element_graph(self) -> nx.Graph:
        """Undirected, weighted: what modularity and Louvain read. Built once, then shared: do not mutate."""
        cached = self.__dict__.get("_element_graph")
        if cached is not None:
            return cached
        graph = nx.Graph()
        graph.add_nodes_from(self.elements)
        for edge in self.edges:
            a, b = edge["source"], edge["target"]
            w = self.edge_weight(edge)
            if graph.has_edge(a, b):
                graph[a][b]["weight"] += w
            else:
                graph.add_edge(a, b, weight=w)
        self.__dict__["_element_graph"] = graph
        return graph

    def weighted_pairs(self) -> tuple[list[tuple[str, str, float]], dict[str, float], float]:
        """(a, b, weight) per element pair, each element's weighted degree, and the total weight."""
        cached = self.__dict__.get("_pairs")
        if cached is None:
            graph = self.element_graph()
            pairs = [(a, b, d["weight"]) for a, b, d in graph.edges(data=True)]
            degree = dict(graph.degree(weight="weight"))
            cached = self.__dict__["_pairs"] = (pairs, degree, sum(w for _, _, w in pairs))
        return cached

    def app_links(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Coupling from one app to another: its cost (summed edge weights) and places per kind."""
        links: dict[tuple[str, str], dict[str, Any]] = {}
        for edge in self.edges:
            a, b = self.elements[edge["source"]].app, self.elements[edge["target"]].app
            if a != b:
                link = links.setdefault((a, b), {"cost": 0.0, "kinds": defaultdict(int)})
                link["cost"] += self.edge_weight(edge)
                link["kinds"][edge["kind"]] += int(edge["weight"])
        return links

    def group_graph(
        self, granularity: Granularity, merge: dict[str, str] | None = None
    ) -> nx.Graph:
        """Elements folded into groups (apps, modules or elements); `merge` folds groups further."""
        merge = merge or {}

        def node(element: str) -> str:
            group = self.group_of(element, granularity)
            return merge.get(group, group)

        graph = nx.Graph()
        graph.add_nodes_from(sorted({node(e) for e in self.elements}))
        for edge in self.edges:
            a, b = node(edge["source"]), node(edge["target"])
            w = self.edge_weight(edge)
            if graph.has_edge(a, b):
                graph[a][b]["weight"] += w
            else:
                graph.add_edge(a, b, weight=w)
        return graph


def _route_packages(
    data: dict[str, Any], apps: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Packages of the project that serve routes but are no app (a `proj.auth` with login views):
    each becomes a pseudo-app holding its modules, so it is split by its coupling like an app.

    A route's view counts when its module is a node of the project's own edges outside any app;
    the pseudo-app is that module's package and every app-less module under it."""
    unowned: set[str] = set()
    for edge in data["edges"]:
        for node, app in (
            (edge["source"], edge.get("source_app")),
            (edge["target"], edge.get("target_app")),
        ):
            if app is None:
                unowned.add(node)
    owned_names = {a.get("name") for a in apps.values()}
    packages: dict[str, dict[str, Any]] = {}
    for route in data.get("routes", []):
        if route.get("app") or route.get("external"):
            continue
        parts = (route.get("view") or "").split(".")
        module = next(
            (
                ".".join(parts[:cut])
                for cut in range(len(parts), 0, -1)
                if ".".join(parts[:cut]) in unowned
            ),
            None,
        )
        package = module.rpartition(".")[0] if module else ""
        if "." not in package or package in owned_names:
            continue  # no own module, or one of the project's root package: nothing to split off
        label = package.rpartition(".")[2]
        while label in apps or (label in packages and packages[label]["name"] != package):
            label += "_pkg"
        packages.setdefault(
            label,
            {
                "label": label,
                "name": package,
                "path": package.replace(".", "/"),
                "models": [],
                "modules": sorted(
                    n for n in unowned if n == package or n.startswith(package + ".")
                ),
                "pseudo": True,
            },
        )
    return packages


def from_analysis(data: dict[str, Any], weights: dict[str, float] | None = None) -> Coupling:
    apps = {a["label"]: a for a in data["apps"] if not a.get("external")}
    apps.update(_route_packages(data, apps))
    models = {m["label"]: m for m in data["models"]}
    elements: dict[str, Element] = {}
    for label, model in models.items():
        if model["app"] in apps and not model.get("abstract"):
            elements[label] = Element(label, "model", model["app"])
    for label, app in apps.items():
        for module in app.get("modules", []):
            elements.setdefault(module, Element(module, "module", label))
    edges = []
    seen: dict[tuple[str, str, str], dict] = {}
    for edge in data["edges"]:
        a, b = edge["source"], edge["target"]
        if a not in elements or b not in elements or a == b:
            continue
        key = (a, b, edge["kind"])
        if key in seen:  # the contract has one edge per (source, target, kind); be safe anyway
            continue
        seen[key] = edge
        edges.append(edge)
    return Coupling(
        elements=elements,
        edges=edges,
        models=models,
        apps=apps,
        routes=[r for r in data.get("routes", []) if _route_app(r, apps) in apps],
        weights={**DEFAULT_WEIGHTS, **(weights or {})},
        user_app=_user_app(data, apps),
    )


def _user_app(data: dict[str, Any], apps: dict[str, dict[str, Any]]) -> str | None:
    """The project's own app that holds the user model (settings.AUTH_USER_MODEL), if it is one."""
    label = (data.get("project") or {}).get("auth_user_model") or ""
    app = label.partition(".")[0]
    return app if app in apps else None


def _route_app(route: dict[str, Any], apps: dict[str, dict[str, Any]]) -> str | None:
    """The route's app, or the pseudo-app of a package that serves it (see _route_packages)."""
    if route.get("app") or route.get("external"):
        return None if route.get("external") else route.get("app")
    view = route.get("view") or ""
    for label, app in apps.items():
        if app.get("pseudo") and view.startswith(app["name"] + "."):
            return label
    return None


def route_element(coupling: Coupling, route: dict[str, Any]) -> str | None:
    """The element that serves a route: its view's module, or the app's package."""
    view = route.get("view") or ""
    parts = view.split(".")
    for cut in range(len(parts), 0, -1):
        candidate = ".".join(parts[:cut])
        if candidate in coupling.elements:
            return candidate
    app = coupling.apps.get(route.get("app") or "")
    return app["name"] if app and app["name"] in coupling.elements else None


def cross_counts(coupling: Coupling, assignment: dict[str, str]) -> dict[str, int]:
    """How many places of each kind would cross services under `assignment` (element -> service)."""
    counts: dict[str, int] = defaultdict(int)
    for edge in coupling.edges:
        if assignment[edge["source"]] != assignment[edge["target"]]:
            counts[edge["kind"]] += int(edge["weight"])
    return dict(counts)


def app_services(coupling: Coupling, assignment: dict[str, str]) -> dict[str, str]:
    """Each app's service: the one that holds most of its elements (the first such on a tie)."""
    votes: dict[str, dict[str, int]] = {}
    for element, service in assignment.items():
        if element in coupling.elements:
            app_votes = votes.setdefault(coupling.elements[element].app, {})
            app_votes[service] = app_votes.get(service, 0) + 1
    return {app: max(counts, key=counts.get) for app, counts in votes.items()}  # type: ignore[arg-type]
