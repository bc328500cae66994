"""Benchmark the decomposition (cluster -> metrics -> plan) and record what it suggests.

    .venv/bin/python bench/decompose_bench.py [--project saleor=/path/to/saleor ...] [--no-write]

The legacy monolith is always measured; real projects are fetched by whoever runs this and
never committed. For each, at each granularity: the time `decompose` takes on the saved
analysis (best of 3), the suggested split against one service per app on the objective
(modularity) and the other metrics, and the cut in places. Writes "## Decomposition" in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import machine, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from analyzer.decompose import Options, decompose  # noqa: E402
from analyzer.pipeline import analyze  # noqa: E402

HEADING = "## Decomposition"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", action="append", default=[], help="NAME=PATH of a Django project"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    projects = {"legacy_monolith": REPO / "legacy_monolith"}
    for item in args.project:
        name, _, path = item.partition("=")
        projects[name] = Path(path)
    rows, cuts = [], []
    for name, path in projects.items():
        document = analyze(path, jobs=2).to_json()
        elements = len(document["models"]) + sum(
            len(a["modules"]) for a in document["apps"] if not a["external"]
        )
        for granularity in ("app", "module", "model"):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                out = decompose(document, Options(granularity=granularity))
                times.append(time.perf_counter() - started)
            m = out["metrics"]
            s, b = m["suggested"], m["per_app"]
            rows.append(
                f"| {name} | {granularity} | {elements:,} | {len(document['edges']):,} | {min(times):.2f} | "
                f"{s['services']} / {b['services']} | {s['modularity']:.3f} / {b['modularity']:.3f} | "
                f"{s['sm']:.3f} / {b['sm']:.3f} | {s['icp']:.3f} / {b['icp']:.3f} | {s['ifn']:.2f} / {b['ifn']:.2f} | "
                f"{s['ned']:.3f} / {b['ned']:.3f} | {s['bcp']:.2f} / {b['bcp']:.2f} | {'yes' if m['offered'] else 'no'} |"
            )
            if granularity == "app":
                c, bc = s["cut"], b["cut"]
                cuts.append(
                    f"| {name} | "
                    + " | ".join(
                        f"{c[k]} / {bc[k]}"
                        for k in ("foreign_keys", "atomic_blocks", "joins", "raw_sql", "writes")
                    )
                    + " |"
                )
            print(rows[-1], flush=True)
    section = f"""{HEADING}

`.venv/bin/python bench/decompose_bench.py {" ".join(f"--project {p}" for p in args.project)}` on {machine()}.
Each cell is **suggested / one service per app**. Seconds: `decompose` on the saved analysis
(Louvain at 22 resolutions, every candidate scored, metrics, plan), best of 3. Elements: models
plus modules of the project's own apps. The objective is modularity (higher is better); SM
higher is better, ICP, IFN, NED and BCP lower (docs/analyzer.md#metrics).

| project | granularity | elements | edges | seconds | services | modularity | SM | ICP | IFN | NED | BCP | offered |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

What the app-level suggestion would cut, in places (suggested / per app):

| project | foreign keys | atomic blocks | joins | raw SQL | writes across |
|---|---|---|---|---|---|
{chr(10).join(cuts)}
"""
    print(section)
    if not args.no_write:
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
