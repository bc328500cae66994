"""Run `figkit analyze P --verify` on real Django projects, each from its own virtualenv, and
write the figures to bench/RESULTS.md ("## Trust: analyzer --verify against Django").

    .venv/bin/python bench/verify_real_projects.py \\
        --project healthchecks=/work/ext/healthchecks:/work/ext/venv-healthchecks \\
        --project netbox=/work/ext/netbox:/work/ext/venv-netbox [--out DIR] [--misses DIR]

Each venv has the project's requirements and figkit installed (`pip install --no-deps -e` this
repository, plus the analyzer's dependencies), so its `figkit` runs this tree's code and its
probe loads the project's Django. The projects and venvs are made by whoever runs this and
never committed. For every project, `--misses DIR/<name>.txt` lists the routes missed, the
routes Django does not have, and the proxy routes that failed, for whoever fixes extraction.
With `--reuse`, the last run's outputs are read again instead of analysing anew.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import machine, write_section  # noqa: E402

HEADING = "## Trust: analyzer --verify against Django"

# What each project needed to load in its venv; kept beside the figures it explains.
SETUP = {
    "healthchecks": "requirements.txt as pinned.",
    "saleor": "the dependencies of pyproject.toml at uv.lock's versions (`pip install -r` of them "
    "with uv.lock's pins as constraints), plus pytest: `saleor.plugins.webhook` imports a "
    "conftest at start-up.",
    "wger": "the dependencies of pyproject.toml at uv.lock's versions; its production settings "
    "(`settings.main`) read the database from the environment: "
    "`DJANGO_DB_ENGINE=django.db.backends.sqlite3 DJANGO_DB_DATABASE=/tmp/wger.sqlite`.",
    "netbox": "requirements.txt as pinned; a configuration module outside the tree, "
    "`netbox_verify_configuration.py` (netbox's `configuration_example.py` with a SECRET_KEY and "
    "ALLOWED_HOSTS=['*']), named by `NETBOX_CONFIGURATION` and put on `PYTHONPATH`; "
    "`netbox/extras/data/un_locode.py`, a generated data file missing from the snapshot, "
    "replaced by `UN_LOCODE = {}` (the one file added to the tree).",
    "taiga-back": "requirements.txt as pinned (Django 3.2, compiled for Python 3.8) on Python 3.11, "
    "except scikit-image 0.19.3, which has no wheel for 3.11 and was left out (its source build "
    "ran past 20 minutes), and psd-tools installed without its dependencies; neither is imported "
    "when the urlconf loads. `settings.common` loads as it is.",
    "legacy_monolith": "figkit's own .venv.",
    "paperless-ngx": "Every route found, and every proxy route matches (the catch-all `.*` of the "
    "web app, written `login_required(IndexView.as_view())`, is attributed to its app since "
    "9166774).",
}


HISTORY = (
    "Earlier the same day, before the last route fixes of issue 11, the same measure (figkit "
    "at 99f6d9a to 9926050, the trailing slash significant) gave own-route recall / precision of 47.9% / 47.0% on wger (every page under "
    "i18n_patterns was read with Django's default `en-us/` prefix, not the project's "
    "LANGUAGE_CODE `en`), 85.7% / 100% on netbox (the feature tabs registered per model at run "
    "time), 88.9% / 100% on saleor and 100% / 100% on healthchecks; the issue reported 0.3%, 76% "
    "and 75% recall on three DRF projects before that (trailing_slash=False, routers subclassed, "
    "generic-subscripted viewsets)."
)

MODELS = (
    "Models and relations, not this section's subject but measured alongside: saleor misses "
    "`schedulers.CustomPeriodicTask`, a subclass of django-celery-beat's concrete `PeriodicTask` "
    "reached through a module alias (`from django_celery_beat import models as base_models`), and "
    "its two relations; wger misses the six `Historical*` models that django-simple-history's "
    "`HistoricalRecords()` creates at run time, and their 17 relations."
)

COPIES = (
    "Every `.<format>` copy is found (the routes carry `format_suffix`), and since d4e7965 the plan "
    "gives such a route a second proxy route for its copies (`/api/x/<str:pk>.<str:format>`), so "
    "`/api/dcim/devices/1.json` moves with `/api/dcim/devices/1/`. The copies still not taken "
    "belong to routes whose own proxy route is a prefix or the root (no twin is made for those)."
)

# Why, read from the lists in --misses (kept beside the figures it explains; update on a rerun).
CAUSES = {
    "legacy_monolith": "`api/health` is served by `core`, which the suggestion treats as a shared "
    "kernel, so no plan step gives it a proxy route (it stays on the monolith).",
    "saleor": "Saleor is a GraphQL API: 10 routes in all, every one found. Of the four proxy "
    "failures, the thumbnail route is a regex with an optional group, which the plan widens to "
    "`thumbnail/*` (that also takes the path with its slash toggled); three have no proxy route: "
    "`.well-known/jwks.json` is served by `core`, the shared kernel, and `media/` and the home "
    "page sit under `if settings.DEBUG`, which the plan leaves out.",
    "taiga-back": "Every route found (the routers that `AppConfig.ready()` appends to "
    "`taiga.urls.urlpatterns` included). The three proxy failures are the API roots of three "
    "routers on `api/v1/`: their view is read as DRF's `APIRootView`, where taiga's own router "
    "subclass makes its own root view, so the route belongs to no app and no plan step.",
    "healthchecks": "Every route found, and every proxy route matches: the project's own path "
    "converters (`<sha1:...>`, `<quoted:...>`) are read as one segment since 1d6dad3.",
    "wger": "Every route found. Proxy failures: a password-reset regex with a token group the "
    "plan cannot say as a converter, widened to a prefix; `gym/export/users/<int:gym_pk>)`, a "
    "stray `)` in wger's own urlconf that Django takes literally and the plan reads as regex; and "
    "two routes served by packages no plan step holds (`robots.txt`, `identity/o/authorize`).",
    "paperless-ngx": "Every route found, and every proxy route matches.",
    "netbox": "Every route found, and every proxy route matches.",
}


@dataclass
class Project:
    name: str
    path: Path
    venv: Path
    env: dict[str, str]


@dataclass
class Outcome:
    project: Project
    seconds: float
    commit: str
    python: str
    analysis: dict
    verify: dict | None
    error: str = ""
    figkit: str = "?"  # the figkit commit the run started at (the venvs run this working tree)


def _parse(spec: str) -> Project:
    name, _, rest = spec.partition("=")
    path, _, venv = rest.partition(":")
    if not (name and path and venv):
        raise SystemExit(f"--project wants NAME=PATH:VENV, not {spec!r}")
    return Project(name, Path(path), Path(venv), {})


def _figkit_commit() -> str:
    return subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "?"  # fmt: skip


def run(project: Project, out: Path, reuse: bool) -> Outcome:
    commit = subprocess.run(["git", "-C", str(project.path), "rev-parse", "--short=9", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"  # fmt: skip
    python = subprocess.run([str(project.venv / "bin" / "python"), "-c",
                             "import platform; print(platform.python_version())"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    target = out / project.name
    log = out / f"{project.name}.log"
    seconds, figkit = 0.0, _figkit_commit()
    if not reuse:
        (target).mkdir(parents=True, exist_ok=True)
        (target / "bench-figkit").write_text(figkit + "\n")
        (target / "bench-commit").write_text(commit + "\n")
        started = time.perf_counter()
        with log.open("w") as f:
            subprocess.run([str(project.venv / "bin" / "figkit"), "analyze", str(project.path),
                            "--verify", "--no-cache", "--out", str(target), "--format", "json"],
                           stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **project.env})  # fmt: skip
        seconds = time.perf_counter() - started
        (target / "bench-seconds").write_text(f"{seconds:.1f}\n")
    elif (target / "bench-seconds").exists():
        seconds = float((target / "bench-seconds").read_text())
        if (target / "bench-figkit").exists():
            figkit = (target / "bench-figkit").read_text().strip()
        if (target / "bench-commit").exists():
            commit = (target / "bench-commit").read_text().strip()
    analysis = json.loads((target / "analysis.json").read_text())
    verify_file = target / "verify.json"
    error = ""
    verify = None
    if (
        verify_file.exists()
        and verify_file.stat().st_mtime >= (target / "analysis.json").stat().st_mtime
    ):
        verify = json.loads(verify_file.read_text())
    else:
        lines = [ln for ln in log.read_text().splitlines() if "--verify" in ln]
        error = lines[-1] if lines else "no verify.json written"
    return Outcome(project, seconds, commit, python, analysis, verify, error, figkit)


def _pair(score: dict | None) -> str:
    if not score:
        return "n/a"
    return f"{score['found']}/{score['django']}: {score['recall']:.1%} / {score['precision']:.1%}"


def _proxy(score: dict | None) -> str:
    proxy = (score or {}).get("proxy")
    if not proxy:
        return "n/a"
    share = proxy["matching"] / proxy["routes"] if proxy["routes"] else 1.0
    return f"{proxy['matching']}/{proxy['routes']}: {share:.1%}"


def row(o: Outcome) -> str:
    v = o.verify or {}
    routes = v.get("routes")
    own = (
        f"{routes['found']} of {routes['django']}: {routes['recall']:.1%} / {routes['precision']:.1%}"
        if routes
        else f"n/a ({o.error})"
    )
    suffixes = v.get("format suffixes")
    copies = (
        "none"
        if not suffixes
        else (
            f"{suffixes['found']} of {suffixes['django']}: {suffixes['recall']:.1%} / {suffixes['precision']:.1%}"
            + (
                f"; proxy {suffixes['proxy']['matching']}/{suffixes['proxy']['copies']}"
                if suffixes.get("proxy")
                else ""
            )
        )
    )
    cells = [o.project.name, o.commit, _pair(v.get("models")), _pair(v.get("tables")),
             _pair(v.get("relations")), own, _proxy(routes), copies, f"{o.seconds:.0f} s"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def causes(o: Outcome, top: int = 5) -> list[str]:
    """The misses grouped by view, the wrong routes by file, the proxy failures by status:
    where one extraction gap sits shows as one large group."""
    routes = (o.verify or {}).get("routes") or {}
    by_view = Counter(m.get("view") or "?" for m in routes.get("missed_routes", []))
    files = Counter(w["evidence"].rsplit(":", 1)[0] for w in routes.get("wrong_routes", []))
    failed = Counter(f["status"] for f in routes.get("proxy", {}).get("failed", []))
    out = []
    if by_view:
        out.append(
            "missed, by view: " + ", ".join(f"`{k}` {n}" for k, n in by_view.most_common(top))
        )
    if files:
        out.append(
            "not in Django, by file: " + ", ".join(f"`{k}` {n}" for k, n in files.most_common(top))
        )
    if failed:
        out.append("proxy failures: " + ", ".join(f"{k} {n}" for k, n in failed.most_common()))
    return out  # fmt: skip


def write_misses(o: Outcome, folder: Path) -> Path:
    routes = (o.verify or {}).get("routes") or {}
    lines = [f"# {o.project.name} at {o.commit}: `figkit analyze --verify`, {date.today().isoformat()}",
             f"# own routes: {routes.get('django')} in Django, {routes.get('static')} in the analysis, "
             f"recall {routes.get('recall')}, precision {routes.get('precision')}", "",
             f"## missed ({len(routes.get('missed_routes', []))}): Django's pattern | view | declaring urlconf"]  # fmt: skip
    for m in sorted(
        routes.get("missed_routes", []), key=lambda m: (m["declared_in"] or "", m["pattern"])
    ):
        lines.append(f"{m['pattern']} | {m['view']} | {m['declared_in']}")
    wrong = routes.get("wrong_routes", [])
    lines += ["", f"## not in Django ({len(wrong)}): the analysis's pattern | view | evidence"]
    lines += [
        f"{w['pattern']} | {w['view']} | {w['evidence']}"
        for w in sorted(wrong, key=lambda w: w["evidence"])
    ]
    failed = routes.get("proxy", {}).get("failed", [])
    bad = [f for f in failed if f["status"] != "no route"]
    lines += ["", f"## proxy routes that fail on a path built from Django's pattern ({len(bad)}; 'no route' ones are the misses above)",
              "status | Django's pattern | sample path | proxy match | detail"]  # fmt: skip
    lines += [
        f"{f['status']} | {f['pattern']} | {f.get('sample')} | {f.get('proxy_match')} | {f.get('detail', '')}"
        for f in bad
    ]
    if o.error:
        lines += ["", f"verify failed: {o.error}"]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{o.project.name}.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


def section(outcomes: list[Outcome], argv: list[str]) -> str:
    header = ("| project | commit | models: found of Django's, recall / precision | tables | relations "
              "| own routes | proxy routes matching | `.<format>` copies | time |")  # fmt: skip
    out = [HEADING, "",
           "`figkit analyze PATH --verify` loads the project's Django registry and URL resolver in a subprocess "
           "and scores the static analysis against them. Routes are compared in one canonical form "
           "(`analyzer.verify_routes.route_key`): Django's joined pattern with anchors dropped, every capture "
           "(regex group or converter) written `<>`, and the trailing slash kept. Own routes are Django's "
           "routes whose view is defined in the tree (admin left out), without DRF's `.<format>` copies; "
           "recall is the share of them the analysis has, precision the share of the analysis's routes "
           "that Django has (own or not). Proxy routes matching: for each own route, a concrete path is "
           "built from Django's regex and the proxy route the plan made for it must match that path (with "
           "`strangler_proxy.routing`) and must not match the path with its trailing slash toggled when "
           "Django does not resolve that one to the route; a route the analysis lacks, or one no plan step "
           "gives a proxy route (`not in plan`), counts as failing. Paths are generated from the regex's "
           "parse tree (classes, ranges, repeats, alternations; back-references and conditionals are not, "
           "and such a route would count as `no sample`: none did here). The full lists, per project, "
           "are written by `--misses DIR`. `.<format>` copies: DRF's format-suffix copies of own routes "
           "against the analysis's routes marked `format_suffix`, and how many of the copies' paths "
           "(`/api/notes/1.json`) the proxy route made for the route itself takes.",
           "",
           f"Measured {date.today().isoformat()} on {machine()}, the runs starting at figkit "
           f"{', '.join(sorted({o.figkit for o in outcomes}))} (the bench's own Python; each project ran "
           "from its own venv, Python as in the table notes), with:", "",
           "    .venv/bin/python bench/verify_real_projects.py " + " ".join(argv), "",
           "which runs, per project, `VENV/bin/figkit analyze PATH --verify --no-cache --out OUT/NAME --format json` (the time is that command's: a cold analysis, the plan, the reports and Django's probe) Each venv runs this working tree's code through its editable install, so a run measures the tree as it is at that moment, uncommitted edits included: check `git status` first.", "",
           header, "|" + "---|" * 9]  # fmt: skip
    out += [row(o) for o in outcomes]
    out += ["", "What each venv needed (requirements installed with pip from PyPI; then "
            "`pip install --no-deps -e figkit` and the analyzer's dependencies):", ""]  # fmt: skip
    for o in outcomes:
        out.append(
            f"- {o.project.name} (Python {o.python}): {SETUP.get(o.project.name, 'its requirements as pinned.')}"
        )
    out += [
        "",
        HISTORY,
        "",
        COPIES,
        "",
        MODELS,
        "",
        "Top causes of what is still missed or wrong:",
        "",
    ]
    for o in outcomes:
        found = causes(o)
        out.append(f"- {o.project.name}: " + ("; ".join(found) if found else "nothing missed."))
        if o.project.name in CAUSES:
            out.append(f"  {CAUSES[o.project.name]}")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", action="append", required=True, help="NAME=PATH:VENV")
    parser.add_argument("--env", action="append", default=[],
                        help="NAME:KEY=VALUE, an environment variable the project's settings need")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("/tmp/figkit-verify"))
    parser.add_argument("--misses", type=Path, help="write NAME.txt lists of what was missed here")
    parser.add_argument("--reuse", action="store_true", help="read the last run's outputs again")
    parser.add_argument("--no-results", action="store_true", help="print, don't write RESULTS.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for spec in args.project:
        project = _parse(spec)
        for item in args.env:
            name, _, assignment = item.partition(":")
            key, _, value = assignment.partition("=")
            if name == project.name:
                project.env[key] = value
        outcome = run(project, args.out, args.reuse)
        print(row(outcome), flush=True)
        if args.misses:
            print("  wrote", write_misses(outcome, args.misses), flush=True)
        outcomes.append(outcome)
    argv = [f"--project {spec}" for spec in args.project] + [f"--env {e}" for e in args.env]
    text = section(outcomes, argv)
    if args.no_results:
        print(text)
    else:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
