"""``figkit analyze --verify``: how much of what Django itself sees the static analysis found.

For a project whose requirements are installed in the current environment, a subprocess loads
the project's Django registry and URL resolver (analyzer/verify_probe.py) and the static
models, tables, relations and routes are scored against it: recall (share of Django's that the
analysis found) and precision (share of the analysis's that Django has), with every miss listed.
Only what is defined inside the analysed tree counts; third-party apps are out of scope for both.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

from analyzer.analysis import Analysis
from analyzer.errors import AnalyzerError
from analyzer.link.routes import normalise_pattern

# DRF's format_suffix_patterns repeat every route as `name.<format>`; one route to the analyzer.
_DRF_SUFFIX = re.compile(r"(\\?\.\(\?P<format>[^)]*\)(/\?)?\$?|\.?<(\w+:)?format>/?)$")


class VerifyError(AnalyzerError):
    """Django could not be loaded for the project."""


@dataclass
class Score:
    name: str
    django: set = field(default_factory=set)
    static: set = field(default_factory=set)

    @property
    def found(self) -> set:
        return self.django & self.static

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.django) if self.django else 1.0

    @property
    def precision(self) -> float:
        return len(self.found) / len(self.static) if self.static else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "django": len(self.django), "static": len(self.static), "found": len(self.found),
            "recall": round(self.recall, 4), "precision": round(self.precision, 4),
            "missed": sorted(map(str, self.django - self.static)),
            "extra": sorted(map(str, self.static - self.django)),
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
    try:
        result = subprocess.run(
            [sys.executable, "-m", "analyzer.verify_probe", source_root],
            capture_output=True, text=True, timeout=timeout, cwd=source_root, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise VerifyError(
            f"loading Django for {settings} took over {timeout:.0f} s; run without --verify"
        ) from exc
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise VerifyError(f"Django could not load {settings} in this environment ({last}); "
                          "install the project's requirements here, or run without --verify")  # fmt: skip
    return json.loads(result.stdout)


def _route_key(pattern: str) -> str:
    return normalise_pattern(_DRF_SUFFIX.sub("", pattern)).rstrip("/")


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
    routes = Score("routes", {_route_key(r["pattern"]) for r in seen["routes"] if r["local"]},
                   {_route_key(r.pattern) for r in analysis.routes})  # fmt: skip
    return [models, tables, relations, routes]
