"""``figkit analyze --verify``: how much of what Django itself sees the static analysis found.

For a project whose requirements are installed in the current environment, a subprocess loads
the project's Django registry and URL resolver (analyzer/verify_probe.py) and the static
models, tables, relations and routes are scored against it: recall (share of Django's that the
analysis found) and precision (share of the analysis's that Django has), with every miss listed.
Only what is defined inside the analysed tree counts for recall; third-party apps are out of
scope, and so is an installed app outside the analysed folder even when it shares its import
root (the static analysis counts it external too; its include is a `prefix/*` claim). Routes are compared in one canonical form in which the trailing slash is significant,
and each route's proxy route is tried on a concrete path built from Django's own pattern
(both in analyzer/verify_routes.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.analysis import Analysis
from analyzer.errors import AnalyzerError
from analyzer.verify_routes import (
    PROXY_STATUSES,
    ProxyCheck,
    check_proxy_routes,
    check_suffix_copies,
    format_suffix_base,
    route_key,
)


class VerifyError(AnalyzerError):
    """Django could not be loaded for the project."""


@dataclass
class Score:
    """``django`` is what recall is counted on; precision is counted against ``known`` (all
    that Django has, the project's own or not) when given, else against ``django``. What is
    ``unsure`` (a route under a settings condition the static reading could not decide) is
    not wrong when Django lacks it: it is left out of precision."""

    name: str
    django: set = field(default_factory=set)
    static: set = field(default_factory=set)
    known: set | None = None
    unsure: set = field(default_factory=set)

    @property
    def found(self) -> set:
        return self.django & self.static

    @property
    def missed(self) -> set:
        return self.django - self.static

    @property
    def judged(self) -> set:
        """The analysis's items that precision is counted on."""
        return self.static - (self.unsure - self._known)

    @property
    def _known(self) -> set:
        return self.django if self.known is None else self.known

    @property
    def wrong(self) -> set:
        return self.judged - self._known

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.django) if self.django else 1.0

    @property
    def precision(self) -> float:
        return 1 - len(self.wrong) / len(self.judged) if self.judged else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "django": len(self.django), "static": len(self.static), "found": len(self.found),
            "recall": round(self.recall, 4), "precision": round(self.precision, 4),
            "missed": sorted(map(str, self.missed)), "extra": sorted(map(str, self.wrong)),
            **({"unsure_absent": sorted(map(str, self.static - self.judged))} if self.unsure else {}),
        }  # fmt: skip


def probe(analysis: Analysis, timeout: float = 300) -> dict:
    """What Django sees, from a subprocess with the project's settings."""
    settings = analysis.project.get("settings_module")
    if not settings:
        raise VerifyError("--verify needs the project's settings module, and none was found; "
                          "run without --verify")  # fmt: skip
    source_root = str(analysis.project["source_root"])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": str(settings),
           "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="figkit-verify-") as scratch:
        output = Path(scratch) / "seen.json"
        try:
            result = subprocess.run(
                [sys.executable, "-m", "analyzer.verify_probe", source_root, str(output),
                 str(analysis.project.get("root") or source_root)],
                capture_output=True, text=True, timeout=timeout, cwd=source_root, env=env,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise VerifyError(
                f"loading Django for {settings} took over {timeout:.0f} s; run without --verify"
            ) from exc
        if result.returncode != 0 or not output.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise VerifyError(f"Django could not load {settings} in this environment ({last}); "
                              "install the project's requirements here, or run without --verify")  # fmt: skip
        try:
            return json.loads(output.read_text())
        except ValueError as exc:
            raise VerifyError(f"the Django probe wrote no readable result ({exc})") from exc


def _is_prefix_claim(route) -> bool:
    """A third-party include whose patterns the analysis does not know: `prefix/*`."""
    return route.pattern.endswith("*")


def _route_scores(analysis: Analysis, seen: list[dict]) -> tuple[Score, Score]:
    """Own routes (a view defined in the tree, Django's admin left out) without their
    `.<format>` copies, and the copies apart: a route that marks ``format_suffix`` stands
    for its copy. A `prefix/*` claim is right when Django has a route under that prefix; a
    route under an undecided settings condition is not wrong when Django lacks it."""
    own = [r for r in seen if r.get("view_local", r.get("local"))]
    known = {route_key(r["pattern"]) for r in seen}
    static = {route_key(r.pattern) for r in analysis.routes
              if not format_suffix_base(r.pattern) and not _is_prefix_claim(r)}  # fmt: skip
    claims = {route_key(r.pattern[:-1]) + "*" for r in analysis.routes if _is_prefix_claim(r)}
    known |= {c for c in claims if any(k.startswith(c[:-1]) for k in known)}
    unsure = {route_key(r.pattern) for r in analysis.routes if getattr(r, "conditional", None)}
    routes = Score(
        "routes",
        {route_key(r["pattern"]) for r in own if not format_suffix_base(r["pattern"])},
        static | claims,
        known,
        unsure,
    )
    static_copies = {format_suffix_base(r.pattern) for r in analysis.routes} - {None}
    static_copies |= {
        route_key(r.pattern).rstrip("/")
        for r in analysis.routes
        if getattr(r, "format_suffix", False)
    }
    suffixes = Score(
        "format suffixes",
        {format_suffix_base(r["pattern"]) for r in own} - {None},
        static_copies,
        {format_suffix_base(r["pattern"]) for r in seen} - {None},
    )
    return routes, suffixes


def score(analysis: Analysis, seen: dict) -> list[Score]:
    local_models = {m["label"] for m in seen["models"] if m["local"]}
    models = Score("models", local_models,
                   {m.label for m in analysis.models if not m.external and not m.abstract})  # fmt: skip
    tables = Score("tables", {(m["label"], m["table"]) for m in seen["models"] if m["local"]},
                   {(m.label, m.table) for m in analysis.models if not m.external and not m.abstract})  # fmt: skip
    static_relations = set()
    for edge in analysis.edges:
        if edge.kind in ("fk", "o2o", "m2m"):
            for evidence in edge.evidence:
                if edge.source in local_models:
                    static_relations.add(
                        (edge.source, str(evidence.get("field")), edge.kind, edge.target)
                    )
    relations = Score("relations", {(r["model"], r["field"], r["kind"], r["target"]) for r in seen["relations"]},
                      static_relations)  # fmt: skip
    routes, suffixes = _route_scores(analysis, seen["routes"])
    return [models, tables, relations, routes, *([suffixes] if suffixes.django else [])]


# -- proxy routes against concrete paths ------------------------------------------------------


def _planned_matches(
    document: dict | None, key: str, convert: Callable[[str], str | None]
) -> Callable[[str], str | None]:
    """The proxy match the plan wrote under `key` (`proxy_route`, or `format_route` for a
    route's DRF `.<format>` copies) for each analysis route pattern; None for a route that no
    plan step gives one. Without a plan, every pattern goes through `convert`, the plan's own
    conversion."""
    if document is None or "plan" not in document:
        return convert
    planned = {
        entry["pattern"]: entry[key]["match"]
        for step in document["plan"]
        for entry in step.get("routes", [])
        if entry.get(key)
    }
    return planned.get


# -- the whole check, and what it prints ------------------------------------------------------


@dataclass
class Verification:
    scores: list[Score]
    proxy: list[ProxyCheck]
    missed_routes: list[dict[str, Any]]  # Django's own routes the analysis lacks
    wrong_routes: list[dict[str, Any]]  # analysis routes Django does not have
    suffix_proxy: list[ProxyCheck] = field(default_factory=list)  # `.<format>` copies

    @property
    def proxy_ok(self) -> int:
        return sum(c.status == "ok" for c in self.proxy)

    def as_json(self) -> dict[str, object]:
        """One entry per score; the routes' carries each miss with its view and urlconf, each
        wrong route with its evidence, and the proxy check."""
        out: dict[str, dict[str, object]] = {s.name: s.as_json() for s in self.scores}
        out["routes"]["missed_routes"] = self.missed_routes
        out["routes"]["wrong_routes"] = self.wrong_routes
        out["routes"]["proxy"] = {
            "routes": len(self.proxy), "matching": self.proxy_ok,
            "statuses": PROXY_STATUSES,
            "failed": [c.as_json() for c in self.proxy if c.status != "ok"],
        }  # fmt: skip
        if self.suffix_proxy:
            out["format suffixes"]["proxy"] = {
                "copies": len(self.suffix_proxy),
                "matching": sum(c.status == "ok" for c in self.suffix_proxy),
                "failed": [c.as_json() for c in self.suffix_proxy if c.status != "ok"],
            }
        return dict(out)


def verify(analysis: Analysis, seen: dict, document: dict | None = None) -> Verification:
    """Score the analysis against what the probe saw; ``document`` is the written analysis
    (with its plan), whose proxy routes are checked."""
    scores = score(analysis, seen)
    routes = next(s for s in scores if s.name == "routes")
    missed = [
        {k: r.get(k) for k in ("pattern", "view", "declared_in")}
        for r in seen["routes"]
        if r.get("view_local", r.get("local")) and route_key(r["pattern"]) in routes.missed
        and not format_suffix_base(r["pattern"])
    ]  # fmt: skip
    wrong = [
        {"pattern": r.pattern, "view": r.view, "evidence": f"{r.file}:{r.line}"}
        for r in analysis.routes
        if route_key(r.pattern) in routes.wrong and not format_suffix_base(r.pattern)
    ]
    from analyzer.decompose.plan import format_match, proxy_match

    match_for = _planned_matches(document, "proxy_route", lambda p: proxy_match(p)[0])
    proxy = check_proxy_routes(seen["routes"], [r.pattern for r in analysis.routes], match_for)
    suffixed = [r.pattern for r in analysis.routes if getattr(r, "format_suffix", False)]
    copies = check_suffix_copies(
        seen["routes"],
        suffixed,
        _planned_matches(document, "format_route", lambda p: format_match(proxy_match(p)[0])),
    )
    return Verification(scores, proxy, missed, wrong, copies)


def run(analysis: Analysis, out: Path) -> Verification:
    """Probe Django, score, and write DIR/verify.json beside DIR/analysis.json."""
    written = out / "analysis.json"
    document = json.loads(written.read_text()) if written.exists() else None
    result = verify(analysis, probe(analysis), document)
    (out / "verify.json").write_text(json.dumps(result.as_json(), indent=1) + "\n")
    return result


def print_verification(result: Verification, console, shown: int = 10) -> None:
    from rich.table import Table

    table = Table(title="static analysis against Django's own registry and resolver",
                  title_justify="left", box=None)  # fmt: skip
    for column in ("", "Django", "static", "found", "recall", "precision"):
        table.add_column(column, justify="left" if not column else "right")
    for s in result.scores:
        table.add_row(s.name, str(len(s.django)), str(len(s.static)), str(len(s.found)),
                      f"{s.recall:.1%}", f"{s.precision:.1%}")  # fmt: skip
    console.print(table)
    total = len(result.proxy)
    share = result.proxy_ok / total if total else 1.0
    console.print(f"proxy routes matching a path built from Django's pattern: "
                  f"{result.proxy_ok} of {total} own routes ({share:.1%})")  # fmt: skip

    if result.suffix_proxy:
        ok = sum(c.status == "ok" for c in result.suffix_proxy)
        console.print(f"`.<format>` copies taken by their route's proxy route: {ok} of "
                      f"{len(result.suffix_proxy)}")  # fmt: skip

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    for s in result.scores:
        if s.name in ("routes", "format suffixes"):
            continue
        for label, items in (("missed", s.missed), ("extra", s.wrong)):
            for item in sorted(map(str, items))[:shown]:
                say(f"  {s.name} {label}: {item}")
    for r in result.missed_routes[:shown]:
        say(f"  route missed: {r['pattern']}  ({r['view']}, in {r['declared_in']})")
    for r in result.wrong_routes[:shown]:
        say(f"  route not in Django: {r['pattern']}  ({r['view']}, {r['evidence']})")
    for c in [c for c in result.proxy if c.status not in ("ok", "no route")][:shown]:
        if c.proxy_match is None:
            say(f"  proxy {c.status}: {c.pattern}  ({c.view})")
        else:
            say(
                f"  proxy {c.status}: {c.proxy_match} for {c.sample or c.pattern} {c.detail}".rstrip()
            )
    more = len(result.missed_routes) + len(result.wrong_routes) > 2 * shown
    if more:
        say("  (the full lists are in verify.json)")
