"""report.md: for pull requests and wikis. Services with a Mermaid diagram, the metrics beside the
per-app baseline, the extraction plan as a checklist with evidence, the warnings.

Every name taken from the analysed code is escaped: Markdown renderers pass inline HTML through,
so `<`, `>` and `&` become entities and table pipes are escaped.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from analyzer.counts import count, counted_models
from analyzer.decompose.outputs import DIRECTIONS, ENTANGLEMENT, METRICS, better_of, verdict
from analyzer.decompose.plan import PLAN_LISTS
from analyzer.report.graph_formats import mermaid

MAX_ITEMS = 25  # per list in a step; the rest is counted


def esc(text: object) -> str:
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("|", "\\|").replace("`", "'").replace("\n", " ")
    )  # fmt: skip


def code(text: object) -> str:
    return f"<code>{esc(text)}</code>"


def where(evidence: list[dict[str, Any]] | dict[str, Any]) -> str:
    items = evidence if isinstance(evidence, list) else [evidence]
    places = [f"{esc(e['file'])}:{e.get('line') or 0}" for e in items[:3]]
    more = f" (+{len(items) - 3})" if len(items) > 3 else ""
    return ", ".join(places) + more


def _describe_edge(item: dict[str, Any]) -> str:
    kind = f" ({esc(item['kind'])})" if item.get("kind") else ""
    return f"{code(item['source'])} → {code(item['target'])}{kind}"


# How one item of a plan list reads; the lists and their titles come from analyzer/edge_kinds.py.
_DESCRIBE = {
    "atomic_to_saga": lambda i: (
        f"{code(i.get('function') or i['module'])} writes "
        + ", ".join(code(m) for m in i["writes"])
    ),
    "joins_to_compose": lambda i: f"{code(i['source'])} ⋈ {code(i['target'])}",
}


def render(data: dict[str, Any]) -> str:
    project = data.get("project", {})
    name = PurePath(str(project.get("root") or "project")).name
    metrics = data.get("metrics", {})
    counts = count(data)
    out = [
        f"# Coupling report: {esc(name)}",
        "",
        f"{esc(counts.line())}, {len(data['edges'])} edges; written by figkit "
        f"{esc(data.get('tool', {}).get('version', ''))}. Granularity {esc(metrics.get('granularity', 'app'))}, "
        f"seed {metrics.get('seed', 42)}.",
        "",
        *(f"- {esc(line)}" for line in counts.legend()),
        "",
        "## Suggested services",
        "",
    ]
    # The verdict on the metrics first, then the trade-off behind it.
    lead = [f"**{esc(v)}**" for v in [verdict(metrics)] if v]
    lead += [esc(n) for n in [metrics.get("note")] if n]
    if lead:
        out += ["\n>\n".join(f"> {line}" for line in lead), ""]
    if not data.get("services"):
        return "\n".join(out + ["No split: the project has no models or modules of its own.", ""])
    out += ["| service | apps | models | tables | routes |", "|---|---|---|---|---|"]
    for s in data["services"]:
        flag = " (extracted)" if s.get("extracted") else ""
        if s.get("kind") == "shared_kernel":
            flag += " (shared kernel: a library, not a service)"
        out.append(
            f"| {esc(s['name'])}{flag} | {esc(', '.join(s['apps']))} | {counted_models(s['models'], data)} | {len(s['tables'])} | {len(set(s['routes']))} |"
        )
    own = {r["pattern"] for r in data["routes"] if not r.get("external")}
    served = len(own & {r for s in data["services"] for r in s["routes"]})
    if served < counts.routes.n:
        out += ["", f"{counts.routes.n - served} of the {counts.routes.n} routes serve no service: "
                "their views are not in the project's apps (a library's view, or one not found)."]  # fmt: skip
    out += ["", "```mermaid", mermaid(data).rstrip(), "```", ""]
    out += [
        "## Metrics: suggested against one service per app",
        "",
        f"{DIRECTIONS}.",
        "",
        "| metric | suggested | per app | better |",
        "|---|---|---|---|",
    ]
    s, b = metrics["suggested"], metrics["per_app"]
    for key, label, better in METRICS:
        out.append(f"| {label} | {s[key]:g} | {b[key]:g} | {better_of(s[key], b[key], better)} |")
    for key in s["cut"]:
        better = better_of(s["cut"][key], b["cut"][key], "lower")
        out.append(
            f"| cut: {key.replace('_', ' ')} ↓ | {s['cut'][key]} | {b['cut'][key]} | {better} |"
        )
    out += [
        "",
        "Definitions and sources: figkit's docs/analyzer.md#metrics.",
        "",
        "## Extraction plan",
        "",
        f"Least entangled first. {esc(ENTANGLEMENT[0].upper() + ENTANGLEMENT[1:])}.",
        "",
    ]
    for step in data["plan"]:
        stays = " (what remains of the monolith)" if step.get("stays_in_monolith") else ""
        out += [
            f"### {step['order']}. {esc(step['service'])}{stays}",
            "",
            f"Entanglement {step['entanglement']:g}.",
            "",
        ]
        routes = step["routes"]
        if routes:
            out.append(
                f"- [ ] Route {len(routes)} routes through the proxy: "
                f"`figkit routes import routes/{step['order']:02d}-{esc(step['service'])}.json --why ...`"
            )
            for r in routes[:MAX_ITEMS]:
                approx = " (widened from a regex)" if not r.get("exact", True) else ""
                out.append(
                    f"  - {code(r['pattern'] or '/')} → {code(r['proxy_route']['match'])}{approx}"
                )
        if step["tables"]:
            out.append(f"- [ ] Move {len(step['tables'])} tables to the service's database: "
                       + ", ".join(code(t) for t in step["tables"]))  # fmt: skip
        for key, (title, _) in PLAN_LISTS.items():
            describe = _DESCRIBE.get(key, _describe_edge)
            items = step.get(key, [])
            for item in items[:MAX_ITEMS]:
                out.append(f"- [ ] {title}: {describe(item)} at {where(item['evidence'])}")
            if len(items) > MAX_ITEMS:
                out.append(f"- … and {len(items) - MAX_ITEMS} more of these in analysis.json")
        out.append("")
    warnings = data.get("warnings", [])
    out += ["## Warnings", ""]
    if not warnings:
        out.append("None.")
    for w in warnings[:50]:
        place = (
            f"{esc(w['file'])}:{w['line']}" if w.get("line") else esc(w.get("file") or "project")
        )
        out.append(f"- {place}: {esc(w['message'])}")
    if len(warnings) > 50:
        out.append(f"- … and {len(warnings) - 50} more in analysis.json")
    return "\n".join(out) + "\n"
