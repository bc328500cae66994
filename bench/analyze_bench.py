"""Benchmark `figkit analyze` on real Django projects and on generated monoliths of growing
size, and write the figures to bench/RESULTS.md ("## Analyzer").

    .venv/bin/python bench/analyze_bench.py --project saleor=/path/to/saleor \\
        --project netbox=/path/to/netbox --project healthchecks=/path/to/healthchecks \\
        [--generated 10,20,40,80] [--jobs 2]

Real projects are fetched by whoever runs this and never committed. Each is copied (without
.git) to a scratch folder, so the warm run can change one file without touching the original:
- cold, 1 process and cold, N processes: no cache, lines of analysed code per second;
- warm: the cache filled, one models file changed, `figkit analyze` run as a command (process
  start-up, reading every file's hash, linking, validating and writing analysis.json included).
Generated projects (bench/generate_django_project.py) show how time grows with size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import machine, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from analyzer.pipeline import analyze  # noqa: E402

HEADING = "## Analyzer"
FIGKIT = Path(sys.executable).with_name("figkit")
KINDS = (
    "import",
    "fk",
    "o2o",
    "m2m",
    "orm_read",
    "orm_write",
    "join",
    "signal",
    "atomic",
    "raw_sql",
    "task",
)


def copy_project(source: Path, scratch: Path) -> Path:
    target = scratch / source.name
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "node_modules", "*.pyc", "__pycache__"))  # fmt: skip
    return target


def change_one_file(project: Path) -> Path:
    candidates = sorted(project.rglob("models.py"), key=lambda p: p.stat().st_size)
    target = candidates[len(candidates) // 2]
    target.write_text(target.read_text() + "\n# changed by analyze_bench\n")
    return target


def measure_project(name: str, source: Path, jobs: int, scratch: Path) -> dict:
    project = copy_project(source, scratch)
    started = time.perf_counter()
    serial = analyze(project, jobs=1)
    one = time.perf_counter() - started
    cache = scratch / f"{name}-report"
    started = time.perf_counter()
    parallel = analyze(project, jobs=jobs, cache_dir=cache / ".cache")
    many = time.perf_counter() - started
    assert serial.to_json()["edges"] == parallel.to_json()["edges"], "serial and parallel disagree"
    subprocess.run([str(FIGKIT), "analyze", str(project), "--out", str(cache), "--jobs", str(jobs)],
                   check=True, capture_output=True)  # fmt: skip
    changed = change_one_file(project)
    started = time.perf_counter()
    result = subprocess.run([str(FIGKIT), "analyze", str(project), "--out", str(cache), "--jobs", str(jobs)],
                            check=True, capture_output=True, text=True)  # fmt: skip
    warm = time.perf_counter() - started
    stats = json.loads((cache / "analysis.json").read_text())["stats"]
    assert stats["files_read"] == 1, (stats, result.stdout)
    lines = parallel.stats["lines"]
    counts = parallel.edge_counts()
    return {
        "name": name, "files": parallel.stats["files"], "lines": lines,
        "apps": sum(not a.external for a in parallel.apps),
        "models": sum(not m.external and not m.abstract for m in parallel.models),
        "routes": len(parallel.routes), "edges": counts, "warnings": parallel.warnings,
        "one": one, "many": many, "warm": warm, "changed": changed.relative_to(project).as_posix(),
    }  # fmt: skip


def measure_generated(sizes: list[int], jobs: int, scratch: Path) -> list[dict]:
    rows = []
    for apps in sizes:
        target = scratch / f"generated-{apps}"
        subprocess.run([sys.executable, str(REPO / "bench" / "generate_django_project.py"), str(target),
                        "--apps", str(apps)], check=True, capture_output=True)  # fmt: skip
        started = time.perf_counter()
        analysis = analyze(target, jobs=jobs)
        seconds = time.perf_counter() - started
        rows.append({"apps": apps, "lines": analysis.stats["lines"], "files": analysis.stats["files"],
                     "seconds": seconds, "edges": sum(analysis.edge_counts().values())})  # fmt: skip
    return rows


def render(projects: list[dict], generated: list[dict], jobs: int, command: str) -> str:
    out = [HEADING, "", f"Machine: {machine()}. Measured {date.today().isoformat()} with:", "",
           f"    {command}", ""]  # fmt: skip
    if projects:
        out += [
            "### Real projects", "",
            "Lines are the analysed code (migrations and tests left out, as by default). "
            f"Cold runs read every file; warm is `figkit analyze` as a command after one file changed, with {jobs} worker processes.",
            "",
            f"| project | files | lines | apps | models | routes | cold, 1 process (s) | lines/s | cold, {jobs} processes (s) | lines/s | warm, 1 file changed (s) | warnings |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]  # fmt: skip
        for p in projects:
            out.append(
                f"| {p['name']} | {p['files']:,} | {p['lines']:,} | {p['apps']} | {p['models']} | {p['routes']} | "
                f"{p['one']:.1f} | {p['lines'] / p['one']:,.0f} | {p['many']:.1f} | {p['lines'] / p['many']:,.0f} | "
                f"{p['warm']:.2f} | {len(p['warnings'])} |"
            )  # fmt: skip
        out += ["", "Edges by kind:", "", "| project | " + " | ".join(KINDS) + " |",
                "|---|" + "---:|" * len(KINDS)]  # fmt: skip
        for p in projects:
            out.append(
                f"| {p['name']} | " + " | ".join(f"{p['edges'].get(k, 0):,}" for k in KINDS) + " |"
            )
        out += ["", "Warnings (what the analysis could not read, per project):", ""]
        for p in projects:
            kinds = Counter(_warning_kind(w.message) for w in p["warnings"])
            listed = "; ".join(f"{n} x {k}" for k, n in kinds.most_common()) or "none"
            out.append(f"- {p['name']}: {listed}")
    if generated:
        base = generated[0]
        out += ["", "### Generated projects (bench/generate_django_project.py)", "",
                f"Cold, {jobs} processes. Linear growth means seconds per 100k lines stays flat.", "",
                "| apps | files | lines | edges | seconds | lines/s | s per 100k lines | vs smallest |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        base_rate = base["seconds"] / base["lines"]
        for g in generated:
            rate = g["seconds"] / g["lines"]
            out.append(f"| {g['apps']} | {g['files']:,} | {g['lines']:,} | {g['edges']:,} | {g['seconds']:.1f} | "
                       f"{g['lines'] / g['seconds']:,.0f} | {rate * 100_000:.2f} | {rate / base_rate:.2f}x |")  # fmt: skip
    return "\n".join(out) + "\n"


def _warning_kind(message: str) -> str:
    for marker in ("does not parse", "does not decode", "computed at run time", "cannot be resolved",
                   "outside the analysed files", "cannot be followed", "found by AppConfig",
                   "outside every installed app", "defined twice", "limit for source files", "symlink"):  # fmt: skip
        if marker in message:
            return marker
    return message[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument(
        "--generated", default="10,20,40,80", help="app counts, comma-separated ('' to skip)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    command = "python bench/analyze_bench.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="figkit-bench-") as scratch_name:
        scratch = Path(scratch_name)
        projects = []
        for spec in args.project:
            name, _, path = spec.partition("=")
            print(f"analyze_bench: {name} ...", flush=True)
            projects.append(measure_project(name, Path(path), args.jobs, scratch))
        sizes = [int(s) for s in args.generated.split(",") if s.strip()]
        generated = measure_generated(sizes, args.jobs, scratch) if sizes else []
    section = render(projects, generated, args.jobs, command)
    print(section)
    write_section(HEADING, section)


if __name__ == "__main__":
    main()
