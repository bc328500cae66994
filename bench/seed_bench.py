"""Benchmark `manage.py seed --size large` into a fresh SQLite file and a fresh PostgreSQL
database, and write the figures to bench/RESULTS.md ("## Seeding the legacy monolith").

    .venv/bin/python bench/seed_bench.py [--size large] [--postgres-url URL]

The command runs as users run it, in its own process, after `migrate` (not timed). Figures per
table group come from its one-line-per-phase output. PostgreSQL is skipped, with a message,
when the server is unreachable; the scratch database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import merge_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MANAGE = "legacy_monolith/manage.py"
SECTION = "## Seeding the legacy monolith"
SCRATCH_DB = "figkit_seed_bench"
PHASE_LINE = re.compile(r"^seed: (?P<phase>[^:]+): (?P<rows>[\d,]+) rows in (?P<seconds>[\d.]+) s$")
TOTAL_LINE = re.compile(r"^seed: \w+ shop .*: (?P<rows>[\d,]+) rows in (?P<seconds>[\d.]+) s")
TABLE_LINE = re.compile(r"^\s+(?P<table>\w+\.\w+)\s+(?P<rows>[\d,]+)$")


@dataclass
class Run:
    backend: str
    command: str
    wall_seconds: float = 0.0
    seed_seconds: float = 0.0
    rows: int = 0
    phases: list[tuple[str, int, float]] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    note: str = ""  # why it was skipped, or what else is worth knowing

    @property
    def skipped(self) -> bool:
        return not self.rows


def parse(output: str, run: Run) -> Run:
    """Fill a run from the command's plain output."""
    for line in output.splitlines():
        if match := PHASE_LINE.match(line):
            run.phases.append(
                (match["phase"], int(match["rows"].replace(",", "")), float(match["seconds"]))
            )
        elif match := TOTAL_LINE.match(line):
            run.rows, run.seed_seconds = (
                int(match["rows"].replace(",", "")),
                float(match["seconds"]),
            )
        elif match := TABLE_LINE.match(line):
            run.tables[match["table"]] = int(match["rows"].replace(",", ""))
    return run


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return (
        f"Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {kib / 1024**2:.1f} GiB memory, "
        f"Python {platform.python_version()}, {cpu}."
    )


def render(runs: list[Run], size: str, today: date) -> str:
    done = [run for run in runs if not run.skipped]
    out = [
        SECTION,
        "",
        f"`seed --size {size}` (default seed 42) into a fresh database after `migrate`, measured "
        f"{today.isoformat()} with `.venv/bin/python bench/seed_bench.py`. Seed time is what the "
        "command reports (one transaction, commit included); wall time adds process start-up.",
        "",
        "| backend | rows | seed (s) | rows/s | wall (s) | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        if run.skipped:
            out.append(f"| {run.backend} | | | | | skipped: {run.note} |")
        else:
            out.append(
                f"| {run.backend} | {run.rows:,} | {run.seed_seconds:.1f} | "
                f"{run.rows / run.seed_seconds:,.0f} | {run.wall_seconds:.1f} | {run.note} |"
            )
    if done:
        out += ["", "Per table group (a phase of the seed writes one group of tables):", ""]
        header = "| phase |" + "".join(f" {run.backend} rows | s | rows/s |" for run in done)
        out += [header, "|---|" + "---:|---:|---:|" * len(done)]
        for index, (phase, _, _) in enumerate(done[0].phases):
            cells = []
            for run in done:
                _, rows, seconds = run.phases[index]
                rate = f"{rows / seconds:,.0f}" if seconds >= 0.05 else "-"
                cells.append(f" {rows:,} | {seconds:.1f} | {rate} |")
            out.append(f"| {phase} |" + "".join(cells))
        key = [
            "orders.Order",
            "orders.OrderLine",
            "catalog.ProductVariant",
            "accounts.User",
            "inventory.StockMovement",
            "notifications.Notification",
            "reviews.Review",
        ]
        tables = done[0].tables
        out += [
            "",
            "Key tables: " + ", ".join(f"{t} {tables[t]:,}" for t in key if t in tables) + ".",
        ]
    out += ["", "Exact commands:", ""]
    out += [f"    {run.command}  # {run.backend}, after migrate" for run in runs]
    return "\n".join(out) + "\n"


def merge(document: str, section: str) -> str:
    """Replace the section if the file has it, else append it."""
    return merge_section(document, SECTION, section)


# -- I/O --------------------------------------------------------------------------------------


def run_seed(backend: str, env: dict[str, str], size: str, shown_env: str) -> Run:
    command = [sys.executable, MANAGE, "seed", "--size", size]
    run = Run(backend, f"{shown_env} .venv/bin/python {MANAGE} seed --size {size}")
    migrate = subprocess.run(
        [sys.executable, MANAGE, "migrate", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode:
        sys.exit(f"seed_bench: migrate failed on {backend}:\n{migrate.stderr}")
    print(f"seed_bench: {backend}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    run.wall_seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"seed_bench: seed failed on {backend}:\n{result.stderr}")
    print(result.stdout, end="", flush=True)
    return parse(result.stdout, run)


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }


def bench_sqlite(size: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="figkit-seed-bench-") as var_dir:
        env = clean_env() | {"FIGKIT_VAR_DIR": var_dir}
        run = run_seed("SQLite", env, size, "FIGKIT_VAR_DIR=$(mktemp -d)")
        database = Path(var_dir) / "legacy_monolith.sqlite3"
        run.note = f"file, WAL; {database.stat().st_size / 1024**2:.0f} MB after seeding"
    return run


def bench_postgres(size: str, server_url: str) -> Run:
    import psycopg

    base = server_url.rsplit("/", 1)[0]
    shown = f"DATABASE_URL={base}/{SCRATCH_DB}"
    try:
        admin = psycopg.connect(server_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {server_url} ({str(exc).strip().splitlines()[0]})"
        print(f"seed_bench: {reason}; skipping it", flush=True)
        return Run("PostgreSQL", shown, note=reason)
    with admin:
        version = admin.execute("show server_version").fetchone()[0].split()[0]
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        admin.execute(f"CREATE DATABASE {SCRATCH_DB}")
        try:
            env = clean_env() | {"DATABASE_URL": f"{base}/{SCRATCH_DB}"}
            with tempfile.TemporaryDirectory(prefix="figkit-seed-bench-") as var_dir:
                run = run_seed(
                    f"PostgreSQL {version}", env | {"FIGKIT_VAR_DIR": var_dir}, size, shown
                )
            run.note = "local server, same machine"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large", choices=["small", "large"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FIGKIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server to create the scratch database on (default: %(default)s)",
    )
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)

    runs = [bench_sqlite(args.size), bench_postgres(args.size, args.postgres_url)]
    section = render(runs, args.size, date.today())
    document = (
        args.results.read_text()
        if args.results.exists()
        else f"# Benchmark results\n\n{machine()}\n"
    )
    args.results.write_text(merge(document, section))
    print(f"\nseed_bench: wrote {SECTION!r} to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
