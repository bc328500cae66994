"""The coupling as graph files for other tools: Graphviz DOT (apps, grouped by service),
GraphML (every element and edge, for Gephi or yEd) and Mermaid (services and what links them)."""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from typing import Any

from analyzer.decompose.coupling import from_analysis
from analyzer.edge_kinds import STRONG_KINDS

_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def app_links(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Weighted coupling between apps, with the places per kind."""
    return from_analysis(data).app_links()


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(data: dict[str, Any]) -> str:
    services = data.get("services", [])
    out = ["digraph coupling {", "  rankdir=LR; node [shape=box, style=rounded];"]
    for i, service in enumerate(services):
        out.append(f"  subgraph cluster_{i} {{ label={_dot_id(service['name'])};")
        for app in service["apps"]:
            out.append(f"    {_dot_id(app)};")
        out.append("  }")
    for (a, b), link in sorted(app_links(data).items()):
        label = ", ".join(f"{k} {n}" for k, n in sorted(link["kinds"].items()))
        out.append(
            f"  {_dot_id(a)} -> {_dot_id(b)} [label={_dot_id(label)}, penwidth={1 + link['cost'] / 40:.1f}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def graphml(data: dict[str, Any]) -> str:
    import networkx as nx

    graph = nx.MultiDiGraph()
    service_of = {
        e: s["name"]
        for s in data.get("services", [])
        for e in [*s["models"], *s.get("modules", [])]
    }
    for model in data["models"]:
        graph.add_node(model["label"], type="model", app=model["app"], table=model.get("table") or "",
                       service=service_of.get(model["label"], ""))  # fmt: skip
    for app in data["apps"]:
        for module in app["modules"]:
            graph.add_node(
                module,
                type="module",
                app=app["label"],
                table="",
                service=service_of.get(module, ""),
            )
    for edge in data["edges"]:
        graph.add_edge(edge["source"], edge["target"], key=edge["kind"], kind=edge["kind"], weight=float(edge["weight"]),
                       evidence=json.dumps(edge["evidence"][:20]))  # fmt: skip
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer)
    return buffer.getvalue().decode()


def _mid(text: str) -> str:
    return "s_" + _MERMAID_ID.sub("_", text)


def _mlabel(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(data: dict[str, Any]) -> str:
    """Services as nodes (with their apps), links between them labelled with what crosses."""
    service_of_app = {app: s["name"] for s in data.get("services", []) for app in s["apps"]}
    lines = ["graph LR"]
    for s in data.get("services", []):
        lines.append(
            f'  {_mid(s["name"])}["{_mlabel(s["name"])}<br/>{_mlabel(", ".join(s["apps"]))}"]'
        )
    between: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (a, b), link in app_links(data).items():
        sa, sb = service_of_app.get(a), service_of_app.get(b)
        if sa and sb and sa != sb:
            for kind, n in link["kinds"].items():
                between[(sa, sb)][kind] += n
    for (a, b), kinds in sorted(between.items()):
        strong = {k: n for k, n in kinds.items() if k in STRONG_KINDS}
        label = (
            ", ".join(f"{k} {n}" for k, n in sorted(strong.items()))
            or f"{sum(kinds.values())} weak"
        )
        lines.append(f'  {_mid(a)} -->|"{_mlabel(label)}"| {_mid(b)}')
    return "\n".join(lines) + "\n"
