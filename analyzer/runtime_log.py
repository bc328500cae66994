"""Runtime coupling: read the recorder's JSON lines into `runtime` edges (view module -> model).

A line names a route, its view and the tables it touched; each table is mapped to the model
that owns it. An edge's weight is the number of requests that showed it. A line that cannot
be read is a warning with its line number, never a crash.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from analyzer.analysis import Analysis, Edge
from analyzer.errors import AnalyzerError
from analyzer.facts import Warning_


def runtime_edges(path: Path, analysis: Analysis) -> tuple[list[Edge], list[Warning_]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise AnalyzerError(
            f"--runtime: {path} does not exist; point it at the recorder's log"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalyzerError(f"--runtime: cannot read {path} ({exc})") from None
    owner = {m.table: m for m in analysis.models if m.table and not m.proxy}
    app_of_model = {m.label: m.app for m in analysis.models}
    modules = {m: a.label for a in analysis.apps for m in a.modules}
    seen: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    warnings: list[Warning_] = []
    name = path.name
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            view, tables = record["view"], record["tables"]
            if not isinstance(tables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            warnings.append(
                Warning_(name, "not a recorder line (JSON with view and tables); skipped", number)
            )
            continue
        if not view:
            continue
        module = view.rsplit(".", 1)[0]
        while module and module not in modules:
            module = module.rsplit(".", 1)[0] if "." in module else ""
        if not module:
            continue
        for table, mode in tables.items():
            model = owner.get(table)
            if model is None:
                continue
            key = (module, model.label)
            counts[key] += 1
            evidence = seen.setdefault(
                key, {"file": name, "line": number, "route": record.get("route"), "writes": False}
            )
            evidence["writes"] = evidence["writes"] or mode == "w"
    edges = [
        Edge(
            module,
            label,
            modules.get(module),
            app_of_model.get(label),
            "runtime",
            [seen[(module, label)]],
            strength=counts[(module, label)],
        )  # fmt: skip
        for module, label in sorted(seen)
    ]
    return edges, warnings
