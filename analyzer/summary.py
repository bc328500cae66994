"""The terminal summary after `figkit analyze`: what was found, at a glance."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from analyzer.analysis import Analysis
from analyzer.counts import count
from analyzer.edge_kinds import KIND_NAMES as EDGE_KINDS


def print_summary(
    analysis: Analysis,
    document: dict[str, Any],
    written: str,
    console: Console,
) -> None:
    """The counts (from analyzer/counts.py, as report.md and report.html show them, each saying
    what it counts), the edges by kind, how many warnings. `document` is the decomposed
    analysis.json, for the services."""
    stats = analysis.stats
    seconds = stats.get("seconds", {})
    total = sum(seconds.values()) if isinstance(seconds, dict) else 0
    tally = count(document)
    console.print(
        f"[bold]{analysis.project.get('settings_module') or 'no settings'}[/]: "
        f"{tally.line()}; "
        f"{stats.get('files', 0)} files ({stats.get('lines', 0):,} lines; "
        f"{stats.get('files_read', 0)} read, {stats.get('files_cached', 0)} from cache) "
        f"in {total:.1f} s",
        highlight=False,
        soft_wrap=True,  # one line, so that scripts and tests can read it whatever the width
    )
    console.print(
        "; ".join(tally.legend()), style="dim", markup=False, highlight=False, soft_wrap=True
    )
    counts = analysis.edge_counts()
    cross = Counter(
        e.kind
        for e in analysis.edges
        if e.source_app and e.target_app and e.source_app != e.target_app
    )
    table = Table(title="edges by kind", title_justify="left", box=None, pad_edge=False)
    table.add_column("kind")
    table.add_column("edges", justify="right")
    table.add_column("across apps", justify="right")
    for kind in EDGE_KINDS:
        if counts.get(kind):
            table.add_row(kind, str(counts[kind]), str(cross.get(kind, 0)))
    console.print(table)
    if analysis.warnings:  # each one was written to stderr, file:line first, as compilers do
        console.print(
            f"[yellow]{len(analysis.warnings)} warnings[/]: each is on stderr above and in analysis.json"
        )
    console.print(f"wrote {written}", highlight=False, soft_wrap=True)
