"""The analysis use case: discover -> extract (parallel, cached) -> link -> Analysis.

Reading files and the cache happen here; everything after is pure. Extraction runs in a pool
of worker processes, each file one task, so a slow file does not hold up the others.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from analyzer.analysis import Analysis, Edge
from analyzer.bugs import bug_warning, debug_log_to_env_file
from analyzer.cache import FactCache, extractor_version, file_key
from analyzer.discover import Project, SourceFile, discover
from analyzer.errors import AnalyzerError
from analyzer.extract import extract
from analyzer.facts import FileFacts, Warning_
from analyzer.libraries import LibrarySource, library_facts
from analyzer.link import link

Progress = Callable[[int, int], None]  # (files done, files to read)
_PARALLEL_MIN_FILES = 24  # below this, starting workers costs more than it saves


def _extract_one(root: str, source: SourceFile) -> tuple[SourceFile, FileFacts]:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    debug_log_to_env_file()
    path = Path(root) / source.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        facts = FileFacts(path=source.path, module=source.module)
        facts.warnings.append(Warning_(source.path, f"cannot be read ({exc.strerror}); skipped"))
        return source, facts
    return source, extract(data, source.path, source.module, source.is_package)


def analyze(
    path: Path,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    progress: Progress | None = None,
    git: bool = False,
    runtime: Path | None = None,
    site_packages: tuple[Path, ...] = (),
    settings: str | None = None,
) -> Analysis:
    """Analyse the Django project at ``path``; raises ProjectNotFound for a wrong path.
    ``settings`` names its settings module when manage.py's is not the one to read.

    A bug of the analyzer's own in one file (reading it or linking its facts) is a warning
    that names the file, and the analysis goes on without it (analyzer/bugs.py).

    ``site_packages``: folders of an environment with the project's requirements, where the
    abstract models of libraries (their fields) are read from.
    """
    started = time.perf_counter()
    for folder in site_packages:
        if not folder.is_dir():
            raise AnalyzerError(
                f"--site-packages {folder} is not a folder; pass the site-packages folder of "
                "an environment that has the project's requirements installed"
            )
    project = discover(path, include=include, exclude=exclude, settings=settings)
    jobs = jobs or min(os.cpu_count() or 1, 8)
    cache = _open_cache(cache_dir, project) if cache_dir is not None else None

    keys: dict[str, str] = {}
    cached: dict[str, FileFacts] = {}
    if cache is not None:
        for source in project.files:
            try:
                data = (project.root / source.path).read_bytes()
            except OSError:
                continue
            keys[source.path] = file_key(data, source.module, source.is_package)
        hits = cache.get_many(list(keys.values()))
        cached = {p: hits[k] for p, k in keys.items() if k in hits}

    todo = [s for s in project.files if s.path not in cached]
    fresh: dict[str, FileFacts] = {}
    total = len(todo)
    if progress:
        progress(0, total)
    if jobs > 1 and total >= _PARALLEL_MIN_FILES:
        try:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(_extract_one, str(project.root), s) for s in todo]
                for done, future in enumerate(as_completed(futures), 1):
                    source, facts = future.result()
                    fresh[source.path] = facts
                    if progress:
                        progress(done, total)
        except BrokenProcessPool:
            rest = [s for s in todo if s.path not in fresh]
            fresh.update(_extract_isolated(str(project.root), rest))
    else:
        logging.getLogger("sqlglot").setLevel(logging.ERROR)
        for done, source in enumerate(todo, 1):
            fresh[source.path] = _extract_one(str(project.root), source)[1]
            if progress:
                progress(done, total)
    if cache is not None:
        cache.put_many([(keys[p], f) for p, f in fresh.items() if p in keys])

    files = [cached.get(s.path) or fresh[s.path] for s in project.files]
    try:
        libraries, library_warnings = library_facts(
            files, LibrarySource(site_packages), _library_reader(cache)
        )
    except Exception as exc:  # a bug here costs the libraries' fields, not the analysis
        libraries = []
        library_warnings = [bug_warning("", None, "libraries' abstract models", exc)]
    finally:
        if cache is not None:
            cache.close()
    extracted = time.perf_counter()
    analysis = link_guarded(project, files + libraries)
    analysis.warnings.extend(library_warnings)
    try:
        tool_version = version("figkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        tool_version = "unknown"
    analysis.stats = {
        "tool": {"version": tool_version, "extractor": extractor_version()},
        "files": len(project.files),
        "lines": sum(f.lines for f in files),
        "files_read": len(fresh),
        "files_cached": len(cached),
        "jobs": jobs,
        "seconds": {
            "extract": round(extracted - started, 3),
            "link": round(time.perf_counter() - extracted, 3),
        },
    }
    if runtime is not None:
        from analyzer.runtime_log import runtime_edges

        edges, warnings = runtime_edges(runtime, analysis)
        analysis.edges.extend(edges)
        analysis.warnings.extend(warnings)
    if git:
        git_started = time.perf_counter()
        analysis.edges.extend(cochange_edges(project, analysis))
        analysis.stats["seconds"]["git"] = round(time.perf_counter() - git_started, 3)  # type: ignore[index]
    return analysis


def _open_cache(cache_dir: Path, project: Project) -> FactCache | None:
    try:
        return FactCache(cache_dir / "facts.sqlite")
    except (OSError, sqlite3.Error) as exc:  # only a speed-up: go on without it
        project.warnings.append(
            Warning_(
                "", f"the fact cache in {cache_dir} cannot be used ({exc}); every file is read"
            )
        )
        return None


def _library_reader(cache: FactCache | None):
    """Reads one library module through the fact cache, like the project's files."""

    def read(module: str, file: Path, is_package: bool) -> FileFacts:
        try:
            data = file.read_bytes()
        except OSError:
            return FileFacts(path=str(file), module=module)
        key = file_key(data, f"<library>{module}", is_package)  # apart from project files
        hit = cache.get_many([key]).get(key) if cache is not None else None
        if hit is not None:
            return hit
        facts = extract(data, str(file), module, is_package)
        if cache is not None:
            cache.put_many([(key, facts)])
        return facts

    return read


def _extract_isolated(root: str, sources: list[SourceFile]) -> dict[str, FileFacts]:
    """After a worker process died (a native crash in the parser), read the rest one file at a
    time, each in a worker, so the file that kills its worker is named and skipped."""
    out: dict[str, FileFacts] = {}
    pool = ProcessPoolExecutor(max_workers=1)
    try:
        for source in sources:
            try:
                out[source.path] = pool.submit(_extract_one, root, source).result()[1]
            except BrokenProcessPool:
                facts = FileFacts(path=source.path, module=source.module)
                facts.warnings.append(
                    Warning_(source.path, "crashed the parser (its process died); skipped")
                )
                out[source.path] = facts
                pool.shutdown(wait=False)
                pool = ProcessPoolExecutor(max_workers=1)
    finally:
        pool.shutdown()
    return out


def link_guarded(project: Project, files: list[FileFacts], max_culprits: int = 5) -> Analysis:
    """``link``, but an analyzer bug set off by one file's facts leaves that file out with a
    warning instead of ending the analysis. The file is found by bisection: linking a prefix
    of the files fails from the first prefix that holds it (log2(files) more links, paid only
    when there is a bug)."""
    try:
        return link(project, files)
    except Exception:  # noqa: S110 - found and reported file by file below
        pass
    kept = list(files)
    bugs: list[Warning_] = []
    for _ in range(max_culprits):
        failure = _link_failure(project, kept)
        if failure is None:
            break
        lo, hi = 0, len(kept)  # link(kept[:hi]) fails; find the shortest failing prefix
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found = _link_failure(project, kept[:mid])
            if found is None:
                lo = mid
            else:
                hi, failure = mid, found
        culprit = kept.pop(hi - 1)
        bugs.append(
            bug_warning(
                culprit.path, None, f"{culprit.path} while linking (its facts left out)", failure
            )
        )
    try:
        analysis = link(project, kept)
    except Exception as exc:  # a bug that no single file sets off: keep what discovery found
        bugs.append(bug_warning("", None, "the project while linking (nothing linked)", exc))
        analysis = Analysis(
            project={"root": str(project.root), "source_root": str(project.source_root),
                     "settings_module": project.settings_module, "urlconf": project.root_urlconf,
                     "auth_user_model": project.auth_user_model or "auth.User"},
            apps=[], models=[], routes=[], edges=[], warnings=list(project.warnings),
        )  # fmt: skip
    analysis.warnings.extend(bugs)
    return analysis


def _link_failure(project: Project, files: list[FileFacts]) -> Exception | None:
    try:
        link(project, files)
    except Exception as exc:
        return exc
    return None


def cochange_edges(project, analysis: Analysis) -> list[Edge]:
    """`cochange` edges between the project's modules, from its git history (analyzer/history.py)."""
    from analyzer.history import cochange, commits, read_log

    module_of = {s.path: s.module for s in project.files}
    app_of = {m: a.label for a in analysis.apps for m in a.modules}
    pairs = cochange(commits(read_log(project.root)), set(module_of))
    edges = []
    for pair in pairs:
        a, b = module_of[pair.a], module_of[pair.b]
        evidence = {"file": pair.a, "line": 0, "other_file": pair.b, "shared": pair.shared,
                    "revisions": [pair.revisions_a, pair.revisions_b], "degree": round(pair.degree, 3)}  # fmt: skip
        edges.append(
            Edge(a, b, app_of.get(a), app_of.get(b), "cochange", [evidence], strength=pair.shared)
        )
    return edges
