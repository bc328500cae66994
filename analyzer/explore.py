"""`analyzer.load()`: an analysis as Python objects for Jupyter.

A networkx graph, pandas DataFrames of models, edges, routes, services, metrics and the plan,
what-if re-splits with other weights or pins, and matplotlib plots. Needs the `notebook`
extra (pandas, matplotlib): `pip install 'figkit[notebook]'`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.decompose import Options, decompose
from analyzer.decompose.coupling import app_services, from_analysis
from analyzer.errors import AnalyzerError

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd
    from matplotlib.axes import Axes


DECOMPOSE_KEYS = {
    "granularity", "services", "seed", "together", "apart", "extracted", "weights", "roles",
}  # fmt: skip


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise AnalyzerError("analyzer.load needs pandas: pip install 'figkit[notebook]'") from None
    return pd


class Exploration:
    """One analysis and one split of it. `resplit()` gives another; `compare()` puts them side by side."""

    def __init__(
        self, data: dict[str, Any], options: Options | None = None, name: str = "suggested"
    ) -> None:
        self.options = options or Options()
        self.name = name
        self.data = (
            data if data.get("plan") or not data.get("apps") else decompose(data, self.options)
        )
        self._coupling = from_analysis(self.data, self.options.weights)

    def __repr__(self) -> str:
        m = self.data["metrics"].get("suggested", {})
        return (
            f"<Exploration {self.name!r}: {len(self.data['apps'])} apps, {len(self.data['models'])} models, "
            f"{len(self.data['edges'])} edges; {m.get('services', 0)} services, modularity {m.get('modularity', 0):.3f}>"
        )

    # --- where each element went ---------------------------------------------------------
    @cached_property
    def assignment(self) -> dict[str, str]:
        """element (model label or module) -> service name."""
        out = {}
        for service in self.data["services"]:
            for element in [*service["models"], *service.get("modules", [])]:
                out[element] = service["name"]
        return out

    def service_of_app(self) -> dict[str, str]:
        """Each app's service: the one holding most of its elements."""
        return app_services(self._coupling, self.assignment)

    # --- graph and tables ------------------------------------------------------------------
    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """Models and modules as nodes (app, kind, service), one edge per kind with weight and evidence."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        for element in self._coupling.elements.values():
            graph.add_node(
                element.id,
                app=element.app,
                type=element.kind,
                service=self.assignment.get(element.id),
            )
        for edge in self.data["edges"]:
            graph.add_edge(edge["source"], edge["target"], key=edge["kind"], kind=edge["kind"],
                           weight=edge["weight"], evidence=edge["evidence"])  # fmt: skip
        return graph

    @cached_property
    def models(self) -> pd.DataFrame:
        pd = _pandas()
        rows = [{**{k: m.get(k) for k in ("label", "app", "table", "file", "line", "abstract", "proxy", "external")},
                 "service": self.assignment.get(m["label"])} for m in self.data["models"]]  # fmt: skip
        return pd.DataFrame(rows)

    @cached_property
    def edges(self) -> pd.DataFrame:
        pd = _pandas()
        rows = []
        for e in self.data["edges"]:
            a, b = self.assignment.get(e["source"]), self.assignment.get(e["target"])
            rows.append({
                "source": e["source"], "target": e["target"], "source_app": e["source_app"],
                "target_app": e["target_app"], "kind": e["kind"], "weight": e["weight"],
                "cost": self._coupling.edge_weight(e),
                "crosses_apps": bool(e["source_app"] and e["target_app"] and e["source_app"] != e["target_app"]),
                "crosses_services": bool(a and b and a != b),
                "where": ", ".join(f"{ev['file']}:{ev['line']}" for ev in e["evidence"][:3]),
            })  # fmt: skip
        return pd.DataFrame(rows)

    @cached_property
    def routes(self) -> pd.DataFrame:
        pd = _pandas()
        service_of_pattern = {p: s["name"] for s in self.data["services"] for p in s["routes"]}
        return pd.DataFrame(
            [
                {
                    "pattern": r["pattern"],
                    "view": r.get("view"),
                    "app": r.get("app"),
                    "name": r.get("name"),
                    "methods": ",".join(r.get("methods") or []),
                    "service": service_of_pattern.get(r["pattern"]),
                }
                for r in self.data["routes"]
            ]  # fmt: skip
        )

    @cached_property
    def services(self) -> pd.DataFrame:
        pd = _pandas()
        return pd.DataFrame(
            [
                {
                    "service": s["name"],
                    "apps": ", ".join(s["apps"]),
                    "models": len(s["models"]),
                    "tables": len(s["tables"]),
                    "routes": len(s["routes"]),
                    "extracted": s.get("extracted", False),
                }
                for s in self.data["services"]
            ]  # fmt: skip
        ).set_index("service")

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Suggested and per-app side by side; cut counts as cut:<kind> rows."""
        pd = _pandas()
        columns = {}
        for split in ("suggested", "per_app"):
            m = self.data["metrics"].get(split) or {}
            columns[split] = {**{k: v for k, v in m.items() if k != "cut"},
                              **{f"cut:{k}": v for k, v in (m.get("cut") or {}).items()}}  # fmt: skip
        return pd.DataFrame(columns)

    @cached_property
    def plan(self) -> pd.DataFrame:
        pd = _pandas()
        return pd.DataFrame(
            [
                {
                    "order": s["order"],
                    "service": s["service"],
                    "entanglement": s["entanglement"],
                    "routes": len(s["routes"]),
                    "tables": len(s["tables"]),
                    "cut_relations": len(s["cut_relations"]),
                    "atomic_to_saga": len(s["atomic_to_saga"]),
                    "joins_to_compose": len(s["joins_to_compose"]),
                    "stays_in_monolith": s.get("stays_in_monolith", False),
                }
                for s in self.data["plan"]
            ]  # fmt: skip
        ).set_index("order")

    def app_coupling(self) -> pd.DataFrame:
        """Weighted coupling between apps (rows: from, columns: to), the cost of cutting each pair."""
        pd = _pandas()
        apps = sorted(self._coupling.apps)
        matrix = pd.DataFrame(0.0, index=apps, columns=apps)
        for (a, b), link in self._coupling.app_links().items():
            matrix.loc[a, b] = link["cost"]
        return matrix

    def worst_couplings(self, n: int = 10) -> pd.DataFrame:
        """The app pairs that cost most to cut, with the kinds that make them up."""
        pd = _pandas()
        crossing = self.edges[
            self.edges["crosses_apps"] & self.edges["source"].isin(self._coupling.elements)
        ]
        if crossing.empty:
            return pd.DataFrame(columns=["source_app", "target_app", "cost", "kinds", "places"])
        grouped = crossing.groupby(["source_app", "target_app"]).agg(
            cost=("cost", "sum"), places=("weight", "sum"),
            kinds=("kind", lambda k: ", ".join(f"{kind}×{n}" for kind, n in k.value_counts().items())),
        )  # fmt: skip
        return grouped.sort_values("cost", ascending=False).head(n).reset_index()

    # --- what-if ---------------------------------------------------------------------------
    def resplit(self, name: str | None = None, **changes: Any) -> Exploration:
        """Another split of the same analysis: granularity, services, seed, together, apart, extracted, weights."""
        from analyzer.decompose.config import options_from

        if set(changes) - DECOMPOSE_KEYS:
            raise AnalyzerError(
                f"resplit() takes {', '.join(sorted(DECOMPOSE_KEYS))}; not {sorted(set(changes) - DECOMPOSE_KEYS)}"
            )
        parsed = options_from(changes, "resplit()")  # the same checks as [tool.figkit]
        options = replace(self.options, **{key: getattr(parsed, key) for key in changes})
        label = name or ", ".join(f"{k}={v}" for k, v in changes.items()) or "suggested"
        return Exploration(decompose(self.data, options), options, label)

    def compare(self, *others: Exploration) -> pd.DataFrame:
        """Metrics of this split, the others, and one service per app, in columns."""
        pd = _pandas()
        table = {"per_app": self.metrics["per_app"]}
        for split in (self, *others):
            table[split.name] = split.metrics["suggested"]
        return pd.DataFrame(table)

    # --- plots -----------------------------------------------------------------------------
    def plot_coupling_matrix(self, ax: Axes | None = None) -> Axes:
        """Heat map of the weighted coupling between apps (log scale), apps ordered by service."""
        import matplotlib.pyplot as plt

        matrix = self.app_coupling()
        order = sorted(matrix.index, key=lambda a: (self.service_of_app().get(a, ""), a))
        matrix = matrix.loc[order, order]
        if ax is None:
            _, ax = plt.subplots(figsize=(1 + 0.45 * len(order), 0.8 + 0.4 * len(order)))
        values = matrix.map(lambda v: math.log1p(v)).to_numpy()
        image = ax.imshow(values, cmap="magma_r")
        ax.set_xticks(range(len(order)), order, rotation=60, ha="right")
        ax.set_yticks(range(len(order)), order)
        ax.set_xlabel("to app")
        ax.set_ylabel("from app")
        ax.set_title("coupling between apps, ln(1 + cost); apps grouped by suggested service")
        ax.figure.colorbar(image, ax=ax, shrink=0.7)
        service_of = self.service_of_app()
        start = 0
        for i in range(1, len(order) + 1):  # outline each service's block on the diagonal
            if i == len(order) or service_of.get(order[i]) != service_of.get(order[start]):
                ax.add_patch(plt.Rectangle((start - 0.5, start - 0.5), i - start, i - start,
                                           fill=False, edgecolor="tab:blue", linewidth=2))  # fmt: skip
                start = i
        return ax

    def plot_services(self, ax: Axes | None = None, seed: int = 7) -> Axes:
        """The apps as a graph: colour by suggested service, size by models, width by coupling."""
        import matplotlib.pyplot as plt
        import networkx as nx

        matrix = self.app_coupling()
        graph = nx.Graph()
        graph.add_nodes_from(matrix.index)
        for a in matrix.index:
            for b in matrix.columns:
                w = matrix.loc[a, b] + matrix.loc[b, a]
                if a < b and w > 0:
                    graph.add_edge(a, b, weight=w)
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 7))
        services = sorted(set(self.service_of_app().values()))
        palette = plt.get_cmap("tab20")
        colour = {s: palette(i % 20) for i, s in enumerate(services)}
        service_of = self.service_of_app()
        sizes = {a: len(self._coupling.apps[a].get("models", [])) for a in graph}
        pos = nx.spring_layout(graph, weight="weight", seed=seed)
        widths = [
            0.3 + 2.5 * math.log1p(d["weight"]) / math.log1p(max(matrix.max().max(), 1))
            for *_, d in graph.edges(data=True)
        ]
        nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, alpha=0.35)
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=[colour.get(service_of.get(a) or "", "grey") for a in graph],
                               node_size=[200 + 60 * sizes[a] for a in graph])  # fmt: skip
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=9)
        for s in services:
            ax.scatter([], [], color=colour[s], label=s)
        ax.legend(title="suggested service", loc="best", fontsize=8)
        ax.set_title(f"{self.name}: apps coloured by service")
        ax.set_axis_off()
        return ax


def load(source: str | Path, **options: Any) -> Exploration:
    """An analysis.json, the folder holding one, or a Django project (analysed on the spot)."""
    from analyzer.contract import read_analysis

    path = Path(source)
    if path.is_dir() and (path / "analysis.json").is_file():
        data = read_analysis(path / "analysis.json")
    elif path.is_file():
        data = read_analysis(path)
    elif path.is_dir():
        from analyzer.pipeline import analyze

        data = analyze(path).to_json()
    else:
        raise AnalyzerError(f"{path} is no analysis.json, report folder or Django project")
    exploration = Exploration(data)
    return exploration.resplit("suggested", **options) if options else exploration
