"""Score an analysis' suggested services against a split written by hand by a domain expert.

    python bench/score_expert_splits.py --analysis OUT/analysis.json \
        --expert bench/expert_splits/saleor.toml [--json]

Prints pairwise precision, recall and F1 over pairs of apps ("same service") and the
adjusted Rand index, for the suggestion and, beside it, for the per-app baseline (every app
its own service). How the expert files were made and how they are scored:
bench/expert_splits/README.md. The measures themselves: bench/expert_scoring.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from expert_scoring import (  # noqa: E402
    Comparison,
    Score,
    ScoringError,
    compare,
    parse_expert,
)


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _row(label: str, s: Score) -> str:
    return (
        f"{label:<18} {s.services:>8} {s.tp:>5} {s.fp:>5} {s.fn:>5} "
        f"{_cell(s.precision):>9} {_cell(s.recall):>7} {_cell(s.f1):>6} {_cell(s.ari):>7}"
    )


def render(title: str, result: Comparison) -> str:
    """The small table: the verdict first, then one row per split."""
    lines = [
        f"{title}: {result.verdict()}",
        f"{len(result.apps)} apps scored; expert has {result.expert_services} groups"
        f" (shared kernel counts as one); pairs of apps, higher is better for all columns",
        f"{'split':<18} {'services':>8} {'TP':>5} {'FP':>5} {'FN':>5} "
        f"{'precision':>9} {'recall':>7} {'F1':>6} {'ARI':>7}",
        _row("suggestion", result.suggestion),
        _row("per-app baseline", result.baseline),
    ]
    lines.append(
        f"shared kernel: expert {len(result.kernel_expert)} apps, suggestion"
        f" {len(result.kernel_suggestion)}, in both"
        f" {len(set(result.kernel_expert) & set(result.kernel_suggestion))}"
        f" (Jaccard {_cell(result.kernel_jaccard)})"
    )
    if result.only_expert:
        lines.append(f"only in the expert split (not scored): {', '.join(result.only_expert)}")
    if result.only_suggestion:
        lines.append(f"only in the suggestion (not scored): {', '.join(result.only_suggestion)}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScoringError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--analysis", type=Path, required=True, help="an analysis.json")
    parser.add_argument("--expert", type=Path, required=True, help="bench/expert_splits/X.toml")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        expert = parse_expert(_read(args.expert, "expert split"), str(args.expert))
        try:
            analysis = json.loads(_read(args.analysis, "analysis"))
        except json.JSONDecodeError as exc:
            raise ScoringError(f"{args.analysis}: not valid JSON: {exc}") from None
        if not isinstance(analysis, dict):
            raise ScoringError(f"{args.analysis}: not an analysis.json (no top-level object)")
        result = compare(expert, analysis)
    except ScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    title = expert.project or args.expert.stem
    if args.json:
        print(
            json.dumps({"project": title, "expert": str(args.expert), **result.as_dict()}, indent=2)
        )
    else:
        print(render(title, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
