"""report.html: one self-contained file that works offline.

vis-network (the build that the pyvis package ships) is inlined together with the page's own
script and style; nothing is fetched when the page is viewed. The analysis goes into the
page as JSON in a `<script type="application/json">` block with every `<` escaped, and the
page's script writes all of it with textContent, so no name from the analysed code can turn
into markup or script.

The graph opens at service level (saleor's 4,000 modules, or 40 apps with 2,000 edges, would be
unreadable at once): one node per suggested service, one edge per pair whose width is its
coupling cost. A click opens a service into its apps and an app into its models and modules;
a click on anything shows its evidence. A coupling matrix (DSM) of apps ordered by service
marks the cells a service boundary cuts. Counts come from analyzer/counts.py, as in every output.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib import resources
from typing import Any

import networkx as nx

from analyzer.counts import count
from analyzer.decompose.coupling import app_services, from_analysis
from analyzer.decompose.outputs import METRICS, verdict
from analyzer.edge_kinds import for_page as edge_kinds_for_page
from analyzer.edge_kinds import plan_lists

MAX_CYCLES = 50
EDGES_WHAT = "coupling edges, one per source, target and kind (an import, a foreign key, a read...)"


def vis_network_js() -> str:
    """The minified vis-network build shipped by pyvis (dual Apache-2.0 / MIT)."""
    lib = resources.files("pyvis") / "lib"
    versions = sorted((p for p in lib.iterdir() if p.name.startswith("vis-")), key=lambda p: p.name)
    return (versions[-1] / "vis-network.min.js").read_text(encoding="utf-8")


def page_data(data: dict[str, Any]) -> dict[str, Any]:
    """What the page needs, cut down from the contract: elements, edges with evidence, services, plan."""
    coupling = from_analysis(data)
    service_of = {
        e: s["name"]
        for s in data.get("services", [])
        for e in [*s["models"], *s.get("modules", [])]
    }
    service_of_app = app_services(coupling, service_of)
    apps = []
    for label, app in sorted(coupling.apps.items()):
        apps.append({"label": label, "name": app.get("name"), "service": service_of_app.get(label),
                     "models": len(app.get("models", [])), "modules": len(app.get("modules", []))})  # fmt: skip
    elements = [
        {"id": e.id, "app": e.app, "type": e.kind, "service": service_of.get(e.id)}
        for e in coupling.elements.values()
    ]
    edges = [
        {"source": e["source"], "target": e["target"], "kind": e["kind"], "weight": e["weight"],
         "cost": round(coupling.edge_weight(e), 2),
         "evidence": e["evidence"][:20], "more": max(0, len(e["evidence"]) - 20)}
        for e in coupling.edges
    ]  # fmt: skip
    counts = count(data)
    return {
        "project": data.get("project", {}),
        "tool": data.get("tool", {}),
        "counts": {
            **{name: c.n for name, c in counts.items()},
            "edges": len(data["edges"]),
            "elements": len(coupling.elements),
        },
        "counted": {
            **{name: {"what": c.what, "aside": c.aside()} for name, c in counts.items()},
            "edges": {"what": EDGES_WHAT, "aside": ""},
        },
        "apps": apps,
        "elements": elements,
        "edges": edges,
        "services": data.get("services", []),
        "metrics": data.get("metrics", {}),
        "metric_labels": [list(m) for m in METRICS],
        "verdict": verdict(data.get("metrics", {})),
        "edge_kinds": edge_kinds_for_page(),
        "plan_lists": [[key, title] for key, (title, _) in plan_lists().items()],
        "plan": data.get("plan", []),
        "cycles": app_cycles(coupling),
        "warnings": data.get("warnings", [])[:500],
    }


def app_cycles(coupling) -> list[dict[str, Any]]:
    """Cycles between apps (shortest first), each hop with the edges that close it."""
    graph = nx.DiGraph()
    hops: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in coupling.edges:
        a, b = coupling.elements[e["source"]].app, coupling.elements[e["target"]].app
        if a != b:
            graph.add_edge(a, b)
            hops[(a, b)].append(e)
    cycles = []
    for cycle in nx.simple_cycles(graph, length_bound=4):
        cycles.append(cycle)
        if len(cycles) >= 5000:
            break
    cycles.sort(key=lambda c: (len(c), c))
    out = []
    for cycle in cycles[:MAX_CYCLES]:
        links = []
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            edges = hops[(a, b)]
            links.append({"from": a, "to": b, "edges": [
                {"source": e["source"], "target": e["target"], "kind": e["kind"], "where": e["evidence"][:2]} for e in edges[:5]
            ], "more": max(0, len(edges) - 5)})  # fmt: skip
        out.append({"apps": cycle, "links": links})
    return out


def _json_for_script(value: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` survives unescaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _inline(js: str) -> str:
    """A script that cannot end its own <script> element early."""
    return re.sub(r"</(script)", r"<\\/\\1", js, flags=re.IGNORECASE)


def render(data: dict[str, Any]) -> str:
    script = resources.files("analyzer.report").joinpath("report.js").read_text(encoding="utf-8")
    style = resources.files("analyzer.report").joinpath("report.css").read_text(encoding="utf-8")
    title = "figkit coupling report"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{title}</title><style>{style}</style></head><body>"
        f'<script type="application/json" id="figkit-data">{_json_for_script(page_data(data))}</script>'
        f"<script>{_inline(vis_network_js())}</script><script>{_inline(script)}</script></body></html>\n"
    )
