"""Score figkit's suggested services against the expert splits in bench/expert_splits/.

    .venv/bin/python bench/expert_split_bench.py --analysis saleor=OUT/analysis.json ... [--no-write]
    .venv/bin/python bench/expert_split_bench.py --project saleor=/path/to/saleor ...

For each project: the suggestion is decomposed again from the analysis (so the figures are
those of the decomposition code at this commit, whatever analyzer made the analysis.json),
scored by pairwise precision, recall, F1 and the adjusted Rand index over apps, beside the
per-app baseline (bench/expert_scoring.py). Writes "## Expert splits" in bench/RESULTS.md with
the commands and the machine. Real projects are checked out by whoever runs this, never committed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))
from expert_scoring import compare, parse_expert  # noqa: E402
from results_file import machine, write_section  # noqa: E402

from analyzer.decompose import decompose  # noqa: E402

HEADING = "## Expert splits"
EXPERTS = BENCH / "expert_splits"


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def load(name: str, analysis: Path | None, project: Path | None) -> dict:
    if analysis is not None:
        return json.loads(analysis.read_text())
    from analyzer.pipeline import analyze

    return analyze(project, jobs=2).to_json()


def row(name: str, document: dict) -> tuple[str, dict]:
    out = decompose(document)
    expert = parse_expert((EXPERTS / f"{name}.toml").read_text(), f"{name}.toml")
    result = compare(expert, out)
    s, b = result.suggestion, result.baseline
    kernel = sorted(
        a for sv in out["services"] if sv.get("kind") == "shared_kernel" for a in sv["apps"]
    )
    truth = expert.partition()
    worst = max(
        (sv for sv in out["services"] if sv.get("kind") != "shared_kernel"),
        key=lambda sv: (len({truth.get(a) for a in sv["apps"] if a in truth}), len(sv["apps"])),
    )
    mixed = sorted({truth[a].removeprefix("service:") for a in worst["apps"] if a in truth})
    short = (
        f"- **{name}** (F1 {_f(s.f1)}): the biggest mix is `{worst['name']}` "
        f"({', '.join(worst['apps'])}), which holds apps of {len(mixed)} expert groups "
        f"({', '.join(mixed)})."
        if s.f1 is not None and s.f1 < 0.7
        else ""
    )
    line = (
        f"| {name} | {len(result.apps)} | {result.expert_services} | {s.services} | "
        f"{_f(s.precision)} | {_f(s.recall)} | **{_f(s.f1)}** | {_f(s.ari)} | "
        f"{_f(b.f1)} | {_f(b.ari)} | {_f(result.kernel_jaccard)} | {', '.join(kernel) or '-'} |"
    )
    return line, {"services": out["services"], "note": out["metrics"]["note"], "short": short}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analysis", action="append", default=[], help="NAME=analysis.json")
    parser.add_argument("--project", action="append", default=[], help="NAME=project folder")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sources: dict[str, tuple[Path | None, Path | None]] = {}
    for item in args.analysis:
        name, _, path = item.partition("=")
        sources[name] = (Path(path), None)
    for item in args.project:
        name, _, path = item.partition("=")
        sources[name] = (None, Path(path))
    if not sources:
        parser.error("give --analysis NAME=analysis.json or --project NAME=PATH for some of: "
                     + ", ".join(p.stem for p in sorted(EXPERTS.glob("*.toml"))))  # fmt: skip
    rows, details, shorts = [], [], []
    for name, (analysis, project) in sources.items():
        line, detail = row(name, load(name, analysis, project))
        rows.append(line)
        print(line)
        services = "; ".join(
            f"{s['name']}{' (kernel)' if s.get('kind') == 'shared_kernel' else ''}: {', '.join(s['apps'])}"
            for s in detail["services"]
        )
        details.append(f"- **{name}**: {services}")
        if detail["short"]:
            shorts.append(detail["short"])
    command = "    .venv/bin/python bench/expert_split_bench.py " + " ".join(
        f"--analysis {n}={a}" if a else f"--project {n}={proj}" for n, (a, proj) in sources.items()
    )
    section = "\n".join(
        [
            HEADING,
            "",
            "The suggested services (`figkit analyze`'s default: app granularity, seed 42) scored "
            "against the splits written by hand in bench/expert_splits/ (how: its README): pairwise "
            "precision, recall and F1 over pairs of apps, and the adjusted Rand index (ARI), beside "
            "the per-app baseline (every app its own service, whose F1 and ARI are 0 whenever the "
            "expert groups anything). Kernel J: Jaccard of the apps both sides call shared kernel. "
            "Target of issue 11: F1 >= 0.7.",
            "",
            f"Machine: {machine()}. Each analysis.json made once with "
            "`.venv/bin/figkit analyze /work/ext/NAME --out DIR` (saleor, netbox: about 40-55 s "
            "cold); the decomposition is run again from it, then scored:",
            "",
            command,
            "",
            "| project | apps scored | expert services | suggested services | precision | recall "
            "| F1 | ARI | per-app F1 | per-app ARI | kernel J | suggested kernel |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            "",
            "Where F1 is below 0.7, the suggested service that mixes the most expert groups:",
            "",
            *(shorts or ["- none"]),
            "",
            "What was suggested:",
            "",
            *details,
            "",
        ]
    )
    if not args.no_write:
        write_section(HEADING, section)
        print(f"wrote {HEADING!r} in bench/RESULTS.md")


if __name__ == "__main__":
    main()
