"""The `figkit` command.

The root app lives here and mounts the commands other parts of the kit register under the
`figkit.commands` entry-point group (the proxy's `proxy` and `routes`), so the analyzer never
imports them directly.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from analyzer.outbox import OutboxResult

app = typer.Typer(
    name="figkit",
    help="Take a Django monolith apart one piece at a time: analyse its coupling, "
    "then move routes to extracted services behind a strangler-fig proxy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Options that `figkit analyze` and `figkit plan` share.
GranularityOption = Annotated[
    str | None,
    typer.Option(
        "--granularity", help="What a service is made of: app (default), module or model."
    ),
]
ServicesOption = Annotated[
    int | None,
    typer.Option(
        "--services", min=1, help="How many services to aim for (default: the best split found)."
    ),
]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Seed of the community detection (default 42).")
]
SitePackagesOption = Annotated[
    list[Path],
    typer.Option(
        "--site-packages",
        help="site-packages folder of an environment with the project's requirements: fields "
        "of libraries' abstract models (taggit, mptt ...) are read from it. Repeatable; also "
        "[tool.figkit] site_packages.",
    ),
]
SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="Settings module to read, as DJANGO_SETTINGS_MODULE (mysite.settings.production); "
        "default: the one manage.py, wsgi.py or asgi.py names.",
    ),
]
FormatsOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="Reports to write: html, md, json, dot, graphml, mermaid (comma-separated).",
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"figkit {version('figkit')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """figkit: coupling analysis, strangler-fig proxy, and the data seam for Django monoliths."""


@app.command()
def analyze(
    path: Annotated[
        Path,
        typer.Argument(help="Root of the Django project to analyse (the folder with manage.py)."),
    ],
    out: Annotated[Path, typer.Option(help="Folder for analysis.json and reports.")] = Path(
        "figkit-report"
    ),
    jobs: Annotated[
        int, typer.Option(min=0, help="Worker processes for reading files (0: one per CPU).")
    ] = 0,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Read every file again instead of reusing facts of unchanged files."
        ),
    ] = False,
    include: Annotated[
        list[str],
        typer.Option(
            help="Glob of files to read although skipped by default (e.g. '*/migrations/*'). Repeatable."
        ),
    ] = [],  # noqa: B006
    exclude: Annotated[
        list[str], typer.Option(help="Glob of files to skip, relative to PATH. Repeatable.")
    ] = [],  # noqa: B006
    formats: FormatsOption = "html,json",
    git: Annotated[
        bool, typer.Option("--git", help="Add co-change coupling from the project's git history.")
    ] = False,
    runtime: Annotated[
        Path | None,
        typer.Option(
            help="Add runtime coupling from the JSON lines of analyzer.middleware.CouplingRecorder."
        ),
    ] = None,
    granularity: GranularityOption = None,
    services: ServicesOption = None,
    seed: SeedOption = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Load the project's Django (its requirements installed here) and score the "
            "static models, tables, relations and routes against it.",
        ),
    ] = False,
    site_packages: SitePackagesOption = [],  # noqa: B006
    settings: SettingsOption = None,
) -> None:
    """Map how modules, apps and tables are coupled; write DIR/analysis.json."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from analyzer.contract import write_analysis
    from analyzer.decompose import decompose
    from analyzer.decompose.outputs import print_decomposition, write_route_files
    from analyzer.errors import AnalyzerError
    from analyzer.pipeline import analyze as run_analysis
    from analyzer.report import parse_formats, write_reports
    from analyzer.summary import print_summary

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("reading files"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task("read", total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    try:
        chosen = parse_formats(formats)  # before anything is read or written
        options = _decompose_options(path, None, granularity, services, seed)
        with bar:
            analysis = run_analysis(
                path,
                jobs=jobs or None,
                cache_dir=None if no_cache else out / ".cache",
                include=tuple(include),
                exclude=tuple(exclude),
                progress=progress,
                git=git,
                runtime=runtime,
                site_packages=_site_packages(path, None, site_packages),
                settings=settings,
            )
        document = _with_counts(decompose(analysis.to_json(), options))
        written = write_analysis(document, out)
        write_route_files(document, out)
        reports = write_reports(document, out, chosen)
    except AnalyzerError as exc:
        typer.echo(f"figkit analyze: {exc}", err=True)
        raise typer.Exit(code=2) from None
    for warning in analysis.warnings:
        where = f"{warning.file}:{warning.line}" if warning.line else (warning.file or str(path))
        typer.echo(f"warning: {where}: {warning.message}", err=True)
    print_summary(analysis, document, str(written), Console())
    print_decomposition(document, Console())
    for report in reports:
        Console().print(f"wrote {report}", highlight=False, soft_wrap=True)
    if verify:
        _verify(analysis, out)


def _verify(analysis, out: Path) -> None:
    from rich.console import Console

    from analyzer.verify import VerifyError, print_verification, run

    try:
        result = run(analysis, out)
    except VerifyError as exc:
        typer.echo(f"figkit analyze --verify: {exc}", err=True)
        raise typer.Exit(code=2) from None
    print_verification(result, Console())
    Console().print(f"wrote {out / 'verify.json'}")


def _with_counts(document: dict) -> dict:
    """analysis.json with its `counts` (analyzer/counts.py), as the terminal and reports show them."""
    from analyzer.counts import count

    return {**document, "counts": count(document).as_json()}


def _decompose_options(root: Path | None, config: Path | None, granularity, services, seed):
    """The project's [tool.figkit] (or --config), with the command line's options on top."""
    from dataclasses import replace

    from analyzer.decompose.config import load_settings, options_from
    from analyzer.errors import AnalyzerError

    settings, where = load_settings(config, root)
    options = options_from({k: v for k, v in settings.items() if k != "site_packages"}, where)
    if granularity is not None:
        if granularity not in ("app", "module", "model"):
            raise AnalyzerError(f"--granularity must be app, module or model, not {granularity!r}")
        options = replace(options, granularity=granularity)
    if services is not None:
        options = replace(options, services=services)
    if seed is not None:
        options = replace(options, seed=seed)
    return options


def _site_packages(root: Path | None, config: Path | None, given: list[Path]) -> tuple[Path, ...]:
    """--site-packages, else [tool.figkit] site_packages (a folder or a list, relative to the
    config file)."""
    from analyzer.decompose.config import load_settings
    from analyzer.errors import AnalyzerError

    if given:
        return tuple(given)
    settings, where = load_settings(config, root)
    value = settings.get("site_packages", [])
    folders = [value] if isinstance(value, str) else value
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise AnalyzerError(f"{where}: site_packages is a folder or a list of folders")
    base = Path(where).parent if Path(where).is_file() else Path(".")
    return tuple(base / f for f in folders)


@app.command()
def plan(
    analysis: Annotated[Path, typer.Argument(help="An analysis.json written by `figkit analyze`.")],
    granularity: GranularityOption = None,
    services: ServicesOption = None,
    seed: SeedOption = None,
    config: Annotated[
        Path | None,
        typer.Option(help="figkit.toml or pyproject.toml (default: the analysed project's)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="New folder for analysis.json, routes/ and reports (default: the next free "
            "plan-N beside ANALYSIS). It must be new or empty unless --force."
        ),
    ] = None,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place",
            help="Overwrite ANALYSIS and replace the route files and reports beside it.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into a non-empty --out, replacing analysis.json, routes/ there."
        ),
    ] = False,
    formats: FormatsOption = "html,json",
) -> None:
    """Suggest service boundaries, price each cut and order the extraction, from a saved
    analysis; written to a new folder (ANALYSIS is left alone unless --in-place)."""
    from rich.console import Console

    from analyzer.contract import read_analysis, write_analysis
    from analyzer.decompose import decompose
    from analyzer.decompose.outputs import print_decomposition, write_route_files
    from analyzer.errors import AnalyzerError
    from analyzer.report import parse_formats, write_reports

    try:
        if in_place and out is not None:
            raise AnalyzerError(
                "--in-place writes beside ANALYSIS; leave out --out, or drop --in-place"
            )
        if out is not None and not force and _holds_files(out):
            raise AnalyzerError(
                f"{out} is not empty; pass a new --out, or --force to replace what figkit wrote there"
            )
        chosen = parse_formats(formats)
        document = read_analysis(analysis)
        root = Path(str(document.get("project", {}).get("root", "")))
        options = _decompose_options(
            root if root.is_absolute() else None, config, granularity, services, seed
        )
        document = _with_counts(decompose(document, options))
        target = analysis.parent if in_place else (out or _new_plan_folder(analysis.parent))
        replaced = len(list((target / "routes").glob("*.json")))
        existed = (target / "analysis.json").exists()
        written = write_analysis(document, target)
        files = write_route_files(document, target)
        reports = write_reports(document, target, chosen)
    except AnalyzerError as exc:
        typer.echo(f"figkit plan: {exc}", err=True)
        raise typer.Exit(code=2) from None
    console = Console()
    print_decomposition(document, console)
    console.print(
        f"{'replaced' if existed else 'wrote'} {written}", highlight=False, soft_wrap=True
    )
    gone = f" (removed the {replaced} that were there)" if replaced else ""
    console.print(
        f"wrote {len(files)} route files under {target / 'routes'}{gone}",
        highlight=False,
        soft_wrap=True,
    )
    for report in reports:
        console.print(f"wrote {report}", highlight=False, soft_wrap=True)


def _holds_files(folder: Path) -> bool:
    from analyzer.errors import AnalyzerError

    if folder.exists() and not folder.is_dir():
        raise AnalyzerError(f"--out {folder} is a file; pass a folder")
    return folder.is_dir() and any(folder.iterdir())


def _new_plan_folder(parent: Path) -> Path:
    """parent/plan-N for the first N that is free, created here so two runs never share one."""
    from analyzer.errors import OutputError

    n = 1
    while True:
        folder = parent / f"plan-{n}"
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise OutputError(
                f"cannot create {folder} ({exc.strerror}); pass --out to a writable folder"
            ) from None


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="The Django project (the folder with manage.py).")],
    config: Annotated[
        Path | None,
        typer.Option(
            help="figkit.toml or pyproject.toml with [tool.figkit.boundaries] and/or "
            "[tool.figkit.outbox] (default: the project's)."
        ),
    ] = None,
    cache_dir: Annotated[
        Path, typer.Option(help="Facts cache shared with `figkit analyze`.")
    ] = Path("figkit-report/.cache"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the violations as JSON.")] = False,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Known debt: fail only on couplings this file does not list."),
    ] = None,
    site_packages: SitePackagesOption = [],  # noqa: B006
    update_baseline: Annotated[
        bool,
        typer.Option("--update-baseline", help="Write today's couplings to --baseline and pass."),
    ] = False,
    init: Annotated[
        bool,
        typer.Option(
            "--init",
            help="Write the suggested split as the boundaries into the project's config "
            "([tool.figkit] in pyproject.toml if there is one, else figkit.toml), then check.",
        ),
    ] = False,
    settings_module: Annotated[
        str | None,
        typer.Option(
            "--settings",
            help="Settings module to read, as DJANGO_SETTINGS_MODULE; default: manage.py's.",
        ),
    ] = None,
) -> None:
    """Fail (exit 1) when code couples across the declared service boundaries, services form a
    cycle, or code writes a model of [outbox] in a way the outbox cannot capture."""
    import json

    from analyzer.decompose.config import load_settings
    from analyzer.errors import AnalyzerError
    from analyzer.fitness import Result, against_baseline, read_baseline, rules_from, write_baseline
    from analyzer.fitness import check as run_check
    from analyzer.outbox import check_outbox, outbox_rule_from
    from analyzer.pipeline import analyze as run_analysis

    try:
        if not path.is_dir():
            raise AnalyzerError(f"{path} is not a folder; pass the Django project's root")
        settings, where = load_settings(config, path)
        outbox = outbox_rule_from(settings, where)
        if not init and not settings.get("boundaries") and outbox is None:
            table = "[boundaries]" if where.endswith("figkit.toml") else "[tool.figkit.boundaries]"
            missing = (
                f"{where} declares no {table}"
                if Path(where).is_file()
                else f"no figkit.toml or [tool.figkit] in {path}, so no boundaries to check"
            )
            raise AnalyzerError(
                f"{missing}; `figkit check {path} --init` writes the suggested split as a "
                "starting point"
            )
        if init and ("boundaries" in settings or "allow" in settings):
            raise AnalyzerError(
                f"{where} declares boundaries already; edit them there, or remove them to "
                "write the suggested split again"
            )
        document = run_analysis(
            path,
            cache_dir=cache_dir,
            site_packages=_site_packages(path, config, site_packages),
            settings=settings_module,
        ).to_json()
        if init:
            written_to, declared = _init_boundaries(path, config, document)
            typer.echo(
                f"figkit check: wrote the suggested split ({declared} services) as boundaries "
                f"to {written_to}; edit it to the split you mean"
            )
            settings, where = load_settings(config, path)
        rules = rules_from(settings, where) if settings.get("boundaries") else None
        if update_baseline and baseline is None:
            raise AnalyzerError("--update-baseline needs --baseline FILE")
        known = read_baseline(baseline) if baseline is not None and not update_baseline else None
        result = run_check(document, rules) if rules is not None else Result()
        outbox_result = check_outbox(document, outbox, where) if outbox is not None else None
        if update_baseline:
            count = write_baseline(baseline, result)  # type: ignore[arg-type]
            typer.echo(
                f"figkit check: wrote {count} known couplings to {baseline}; new ones will fail"
            )
            if outbox_result is None:
                return
            result, rules = Result(), None  # known now; the outbox's writes are never baselined
        seen_known, fixed = 0, list[str]()
        if known is not None:
            result, seen_known, fixed = against_baseline(result, known)
    except AnalyzerError as exc:
        typer.echo(f"figkit check: {exc}", err=True)
        raise typer.Exit(code=2) from None
    for entry in fixed:
        typer.echo(f"fixed, drop it from the baseline (--update-baseline): {entry}", err=True)
    ok = result.ok and (outbox_result is None or outbox_result.ok)
    if as_json:
        typer.echo(json.dumps({
            "ok": ok,
            "violations": [v.__dict__ for v in result.violations],
            "cycles": result.cycles,
            **({"outbox": _outbox_json(outbox_result)} if outbox_result else {}),
        }, indent=2))  # fmt: skip
    elif rules is not None:
        for v in result.violations:
            for ev in v.evidence:
                typer.echo(f"{ev['file']}:{ev.get('line') or 0}: {v.source_service} -> {v.target_service}: "
                           f"{v.kind} {v.source} -> {v.target} is not allowed")  # fmt: skip
        for cycle in result.cycles:
            hop = cycle["break"]
            typer.echo(f"cycle: {' -> '.join([*cycle['services'], cycle['services'][0]])}; "
                       f"break it at {hop['from']} -> {hop['to']} ({len(hop['edges'])} edges, weight {hop['weight']:g})")  # fmt: skip
        places = sum(len(v.evidence) for v in result.violations)
        known_note = f" ({seen_known} known ones in the baseline)" if baseline is not None else ""
        typer.echo(
            f"figkit check: {'ok' if result.ok else 'FAILED'}: {places} coupling places across boundaries, "
            f"{len(result.cycles)} cycles{known_note}, {len(rules.boundaries)} services declared",
            err=not result.ok,
        )
        if init and not result.ok:
            typer.echo(
                "figkit check: these couplings cross the suggested split today; accept them as "
                f"known debt with `figkit check {path} --baseline figkit-baseline.json "
                "--update-baseline`, and only new ones will fail",
                err=True,
            )
    if outbox_result is not None and not as_json:
        _print_outbox(outbox_result)
    if not ok:
        raise typer.Exit(code=1)


def _outbox_json(result: OutboxResult) -> dict[str, object]:
    rule = result.rule
    return {
        "ok": result.ok,
        "guarded": result.guarded,
        "bypasses": [b.as_json(rule.publish) for b in result.bypasses],
        "allowed": [b.as_json(rule.publish) for b in result.allowed],
        "unused_allows": [rule.allow[i].describe() for i in result.unused_allows],
    }


def _print_outbox(result: OutboxResult) -> None:
    """One line per bypass on stdout, then stale allow entries and the verdict."""
    rule = result.rule
    for bypass in result.bypasses:
        typer.echo(bypass.message(rule.publish))
    for i in result.unused_allows:
        typer.echo(f"figkit check: outbox allow #{i + 1} ({rule.allow[i].describe()}) accepts "
                   "no write any more; drop it", err=True)  # fmt: skip
    allowed = f", {len(result.allowed)} allowed" if result.allowed else ""
    count = len(result.bypasses)
    writes = "1 write bypasses" if count == 1 else f"{count} writes bypass"
    typer.echo(
        f"figkit check: {'ok' if result.ok else 'FAILED'}: {writes} the outbox "
        f"({len(result.guarded)} models guarded{allowed})",
        err=not result.ok,
    )


def _init_boundaries(path: Path, config: Path | None, document: dict) -> tuple[Path, int]:
    """Decompose at app granularity and append the split as boundaries to the project's config:
    --config, else the config figkit reads today, else pyproject.toml if present, else figkit.toml."""
    from analyzer.decompose import decompose
    from analyzer.decompose.config import find_config, load_settings
    from analyzer.errors import AnalyzerError
    from analyzer.fitness import init_config, suggested_rules

    rules = suggested_rules(
        decompose(document, _decompose_options(path, config, "app", None, None))
    )
    if not rules.boundaries:
        raise AnalyzerError(f"{path} has no models or modules of its own apps: nothing to split")
    found = find_config(path)
    if config is not None:
        target = config
    elif found is not None:
        target = found[0]
    elif (path / "pyproject.toml").is_file():
        target = path / "pyproject.toml"
    else:
        target = path / "figkit.toml"
    init_config(target, rules)
    if not load_settings(config, path)[0].get("boundaries"):
        raise AnalyzerError(f"wrote boundaries to {target}, but figkit reads another config first")
    return target, len(rules.boundaries)


@app.command()
def report(
    analysis: Annotated[
        Path, typer.Argument(help="An analysis.json written by `figkit analyze` or `figkit plan`.")
    ],
    formats: Annotated[
        str,
        typer.Option(
            "--format", help="Reports to write: html, md, dot, graphml, mermaid (comma-separated)."
        ),
    ] = "html,md",
    out: Annotated[
        Path | None, typer.Option(help="Folder for the reports (default: beside ANALYSIS).")
    ] = None,
) -> None:
    """Write reports (report.html to open in a browser, report.md, graph files) from a saved analysis."""
    from rich.console import Console

    from analyzer.contract import read_analysis
    from analyzer.errors import AnalyzerError
    from analyzer.report import parse_formats, write_reports

    try:
        chosen = parse_formats(formats)
        document = read_analysis(analysis)
        written = write_reports(document, out or analysis.parent, chosen)
    except AnalyzerError as exc:
        typer.echo(f"figkit report: {exc}", err=True)
        raise typer.Exit(code=2) from None
    for path in written:
        Console().print(f"wrote {path}")


def _mount_plugins() -> None:
    for ep in entry_points(group="figkit.commands"):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken part must not take the whole CLI down
            print(
                f"figkit: could not load the '{ep.name}' commands ({exc}); skipping them",
                file=sys.stderr,
            )
            continue
        app.add_typer(sub, name=ep.name)


_mount_plugins()


def main() -> None:
    app()
