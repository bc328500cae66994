"""Reports of an analysis: every format is a pure function from the contract dict to text.

`write_reports(data, out_dir, formats)` writes them, each atomically; analysis.json itself is
written by analyzer/contract.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, OutputError

FORMATS = ("html", "md", "json", "dot", "graphml", "mermaid")


def parse_formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise AnalyzerError(
            f"--format takes a comma-separated list of {', '.join(FORMATS)}; not {', '.join(unknown) or 'nothing'}"
        )
    return chosen


def renderers() -> dict[str, tuple[str, Callable[[dict[str, Any]], str]]]:
    from analyzer.report import graph_formats, markdown

    table: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
        "md": ("report.md", markdown.render),
        "dot": ("coupling.dot", graph_formats.dot),
        "graphml": ("coupling.graphml", graph_formats.graphml),
        "mermaid": ("services.mmd", graph_formats.mermaid),
    }
    try:
        from analyzer.report import html
    except ImportError:  # pragma: no cover
        pass
    else:
        table["html"] = ("report.html", html.render)
    return table


def write_reports(data: dict[str, Any], out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write each chosen format but json (analysis.json is the contract's own job) into out_dir."""
    written = []
    table = renderers()
    for fmt in formats:
        if fmt == "json":
            continue
        if fmt not in table:
            raise AnalyzerError(
                f"the {fmt} report is not available in this version; pick from {', '.join(sorted(table))}, json"
            )
        name, render = table[fmt]
        text = render(data)
        target = out_dir / name
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(
                f"cannot write {target} ({exc.strerror}); nothing else was changed"
            ) from exc
        written.append(target)
    return written
