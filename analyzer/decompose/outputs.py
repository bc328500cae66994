"""What the decomposition shows a person and leaves on disk: a summary, and one route file per step."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from analyzer.decompose.metrics import DIRECTIONS as _DIRECTIONS
from analyzer.errors import OutputError

_ARROW = {"higher": "↑", "lower": "↓"}
DIRECTIONS = "↑ higher is better, ↓ lower is better"
ENTANGLEMENT = (
    "entanglement: the weighted coupling that crosses a service's boundary (each edge in or out "
    "at its kind's weight); lower is easier to cut out"
)

_NAMES = {
    "modularity": "modularity",
    "sm": "structural modularity SM",
    "icp": "inter-call percentage ICP",
    "ifn": "interface number IFN",
    "ned": "non-extreme distribution NED",
    "bcp": "business context purity BCP",
}
# key, label (with its direction), "higher" | "lower" | None: the terminal, report.md and
# report.html all label the metrics from here; the directions are metrics.py's.
METRICS = (
    ("services", "services", None),
    *((key, f"{_NAMES[key]} {_ARROW[better]}", better) for key, better in _DIRECTIONS.items()),
)


def better_of(suggested: float, per_app: float, better: str | None) -> str:
    """Which split does better on a metric: "suggested", "per app", or "" (equal, or no direction)."""
    if not better or suggested == per_app:
        return ""
    return "suggested" if (suggested > per_app) == (better == "higher") else "per app"


def score(metrics: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """The quality metrics (those with a direction) the suggestion wins and loses against one
    service per app, by label, and how many there are."""
    s, b = metrics["suggested"], metrics["per_app"]
    scored = [
        (label, better_of(s[key], b[key], better)) for key, label, better in METRICS if better
    ]
    wins = [label for label, who in scored if who == "suggested"]
    losses = [label for label, who in scored if who == "per app"]
    return wins, losses, len(scored)


def loses_most(metrics: dict[str, Any]) -> bool:
    if not metrics.get("suggested") or not metrics.get("per_app"):
        return False
    _, losses, total = score(metrics)
    return len(losses) > total / 2


def verdict(metrics: dict[str, Any]) -> str:
    """The score first: how many quality metrics the suggestion wins and loses against one
    service per app, leading with the loss when it loses most of them; '' without a split."""
    if not metrics.get("suggested") or not metrics.get("per_app"):
        return ""
    wins, losses, total = score(metrics)

    def listed(labels: list[str]) -> str:
        return f" ({', '.join(labels)})" if labels else ""

    if loses_most(metrics):
        return (
            f"The suggested split loses {len(losses)} of {total} quality metrics to one service "
            f"per app{listed(losses)} and wins {len(wins)}{listed(wins)}."
        )
    return (
        f"The suggested split wins {len(wins)} of {total} quality metrics against one service "
        f"per app{listed(wins)} and loses {len(losses)}{listed(losses)}."
    )


def write_route_files(data: dict[str, Any], out_dir: Path) -> list[Path]:
    """DIR/routes/NN-service.json for each step, as `figkit routes import` reads them; atomic writes."""
    folder = out_dir / "routes"
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
        for step in data.get("plan", []):
            target = folder / f"{step['order']:02d}-{step['service']}.json"
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".routes-", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(step["route_file"], f, indent=2)
                f.write("\n")
            os.replace(tmp, target)
            written.append(target)
    except OSError as exc:
        raise OutputError(f"cannot write route files under {folder} ({exc.strerror})") from exc
    return written


def print_decomposition(data: dict[str, Any], console: Console) -> None:
    """The verdict on the metrics first (and why), then the metrics table, then the plan."""
    metrics = data["metrics"]
    if not metrics.get("suggested"):
        console.print(metrics.get("note", "no split suggested"), markup=False, highlight=False)
        return
    style = "bold yellow" if loses_most(metrics) else "bold"
    console.print(verdict(metrics), style=style, markup=False, highlight=False)
    if metrics.get("note"):
        console.print(metrics["note"], markup=False, highlight=False)
    table = Table(
        title=f"suggested split ({metrics['granularity']} granularity) against one service per app",
        title_justify="left",
        caption=DIRECTIONS,
        caption_justify="left",
        box=None,
    )
    for column in ("metric", "suggested", "per app", "better"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, label, better in METRICS:
        s, b = metrics["suggested"][key], metrics["per_app"][key]
        table.add_row(label, f"{s:g}", f"{b:g}", better_of(s, b, better))
    for key, value in metrics["suggested"]["cut"].items():
        base = metrics["per_app"]["cut"][key]
        table.add_row(
            f"cut: {key.replace('_', ' ')} ↓",
            str(value),
            str(base),
            "" if value == base else ("suggested" if value < base else "per app"),
        )
    console.print(table)
    plan = Table(
        title="extraction plan, least entangled first",
        title_justify="left",
        caption=ENTANGLEMENT,
        caption_justify="left",
        box=None,
    )
    for column in (
        "step",
        "service",
        "apps",
        "routes",
        "tables",
        "FKs cut",
        "sagas",
        "joins",
        "entanglement",
    ):
        plan.add_column(column, justify="right" if column not in ("service", "apps") else "left")
    apps = {s["name"]: s["apps"] for s in data["services"]}
    for step in data["plan"]:
        name = step["service"] + (" (stays)" if step.get("stays_in_monolith") else "")
        plan.add_row(
            str(step["order"]), name, ", ".join(apps.get(step["service"], [])), str(len(step["routes"])),
            str(len(step["tables"])), str(len(step["cut_relations"])), str(len(step["atomic_to_saga"])),
            str(len(step["joins_to_compose"])), f"{step['entanglement']:g}",
        )  # fmt: skip
    console.print(plan)
