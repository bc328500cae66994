"""The analysis as Python objects, and as the analysis.json contract (schema_version 1).

``Analysis.to_json()`` is the only way the contract is written; ``Analysis.graph()`` gives
the networkx MultiDiGraph that clustering, metrics and notebooks work on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analyzer.facts import Warning_

if TYPE_CHECKING:
    import networkx as nx

    from analyzer.link.apps import App
    from analyzer.link.models import Model
    from analyzer.link.routes import Route

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    source_app: str | None
    target_app: str | None
    kind: str
    evidence: list[dict[str, object]]
    strength: float | None = (
        None  # for evidence that is counted, not listed (co-change: shared commits)
    )

    @property
    def weight(self) -> float:
        return self.strength if self.strength is not None else len(self.evidence)

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source, "target": self.target, "source_app": self.source_app,
            "target_app": self.target_app, "kind": self.kind, "weight": self.weight,
            "evidence": self.evidence,
        }  # fmt: skip


@dataclass
class Analysis:
    project: dict[str, object]
    apps: list[App]
    models: list[Model]
    routes: list[Route]
    edges: list[Edge]
    warnings: list[Warning_]
    stats: dict[str, object] = field(default_factory=dict)

    def edge_counts(self) -> Counter[str]:
        return Counter(e.kind for e in self.edges)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "figkit", **self.stats.get("tool", {})},  # type: ignore[dict-item]
            "project": self.project,
            "apps": [
                {
                    "label": a.label,
                    "name": a.name,
                    "path": a.path,
                    "external": a.external,
                    "models": sorted(a.models),
                    "modules": sorted(a.modules),
                }
                for a in sorted(self.apps, key=lambda a: (a.external, a.label))
            ],  # fmt: skip
            "models": [
                {
                    "label": m.label,
                    "app": m.app,
                    "table": m.table,
                    "file": m.file,
                    "line": m.line,
                    "abstract": m.abstract,
                    "proxy": m.proxy,
                    "external": m.external,
                    "concrete": m.concrete,
                    "parents": m.parents,
                }
                for m in self.models
            ],  # fmt: skip
            "routes": [r.as_json() for r in self.routes],
            "edges": [e.as_json() for e in self.edges],
            "services": [],
            "metrics": {"suggested": {}, "per_app": {}},
            "plan": [],
            "warnings": [w.as_json() for w in self.warnings],
            "stats": {k: v for k, v in self.stats.items() if k != "tool"},
        }

    def graph(self) -> nx.MultiDiGraph:
        """Nodes are models (``app.Model``) and modules; one edge per kind between two nodes,
        with weight and evidence as attributes."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        for model in self.models:
            graph.add_node(model.label, type="model", app=model.app, table=model.table,
                           external=model.external)  # fmt: skip
        for app in self.apps:
            for module in app.modules:
                graph.add_node(module, type="module", app=app.label, external=False)
        for edge in self.edges:
            for node, owner in ((edge.source, edge.source_app), (edge.target, edge.target_app)):
                if node not in graph:
                    graph.add_node(node, type="module", app=owner, external=False)
            graph.add_edge(edge.source, edge.target, key=edge.kind, kind=edge.kind,
                           weight=edge.weight, evidence=edge.evidence)  # fmt: skip
        return graph
