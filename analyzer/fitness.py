"""`figkit check`: keep drawn boundaries from eroding (a fitness function for CI).

Boundaries are declared in the project's config; every coupling that crosses from one
declared service into another (or from a service back into the monolith's code) is a
violation unless an `allow` rule names it. Code left outside every boundary is the
monolith: it may still call into services, which is what strangling looks like. Cycles
between services are listed with the links that would break them.

    [tool.figkit.boundaries]
    catalog = ["catalog", "inventory"]        # apps or models
    orders = ["orders", "payments"]
    [[tool.figkit.allow]]
    from = "orders"
    to = "catalog"
    kinds = ["import", "orm_read"]            # leave out to allow every kind
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from analyzer.decompose.boundaries import resolve
from analyzer.decompose.coupling import DEFAULT_WEIGHTS, Coupling, from_analysis
from analyzer.errors import AnalyzerError

MONOLITH = "(monolith)"


@dataclass(frozen=True)
class Allow:
    source: str
    target: str
    kinds: frozenset[str] = frozenset()  # empty: every kind


@dataclass(frozen=True)
class Rules:
    boundaries: dict[str, tuple[str, ...]]
    allow: tuple[Allow, ...] = ()


@dataclass
class Violation:
    source_service: str
    target_service: str
    kind: str
    source: str
    target: str
    evidence: list[dict[str, Any]]


@dataclass
class Result:
    violations: list[Violation] = field(default_factory=list)
    cycles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.cycles


def rules_from(config: dict[str, Any], where: str = "the figkit config") -> Rules:
    boundaries = config.get("boundaries")
    if not boundaries:
        raise AnalyzerError(
            f"{where} declares no [tool.figkit.boundaries]; `figkit check PATH --init` writes the "
            "suggested split there as a starting point"
        )
    if not isinstance(boundaries, dict) or not all(
        isinstance(v, list) and v and all(isinstance(x, str) for x in v)
        for v in boundaries.values()
    ):
        raise AnalyzerError(
            f'{where}: [boundaries] maps a service to its apps, e.g. catalog = ["catalog"]'
        )
    allows = []
    for i, rule in enumerate(config.get("allow", [])):
        if (
            not isinstance(rule, dict)
            or not {"from", "to"} <= set(rule)
            or set(rule) - {"from", "to", "kinds"}
        ):
            raise AnalyzerError(f"{where}: allow #{i + 1} needs from and to (and may give kinds)")
        names = set(boundaries) | {MONOLITH, "monolith"}
        for end in ("from", "to"):
            if rule[end] not in names:
                raise AnalyzerError(
                    f"{where}: allow #{i + 1}: {rule[end]!r} is no declared service"
                )
        kinds = rule.get("kinds", [])
        unknown = set(kinds) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise AnalyzerError(
                f"{where}: allow #{i + 1}: no edge kind {', '.join(sorted(unknown))}"
            )
        fix: dict[str, str] = {"monolith": MONOLITH}
        allows.append(
            Allow(
                fix.get(rule["from"]) or str(rule["from"]),
                fix.get(rule["to"]) or str(rule["to"]),
                frozenset(kinds),
            )
        )
    return Rules({k: tuple(v) for k, v in boundaries.items()}, tuple(allows))


def assign(coupling: Coupling, rules: Rules) -> dict[str, str]:
    assignment = {e: MONOLITH for e in coupling.elements}
    owner: dict[str, str] = {}
    for service, names in rules.boundaries.items():
        for name in names:
            for element in resolve(coupling, name):
                if element in owner and owner[element] != service:
                    raise AnalyzerError(
                        f"{element} is declared in two boundaries: {owner[element]} and {service}"
                    )
                owner[element] = service
                assignment[element] = service
    return assignment


def _allowed(rules: Rules, source: str, target: str, kind: str) -> bool:
    return any(
        a.source == source and a.target == target and (not a.kinds or kind in a.kinds)
        for a in rules.allow
    )


def check(data: dict[str, Any], rules: Rules) -> Result:
    coupling = from_analysis(data)
    assignment = assign(coupling, rules)
    result = Result()
    links: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for edge in coupling.edges:
        a, b = assignment[edge["source"]], assignment[edge["target"]]
        if a in (b, MONOLITH):  # the monolith may call into services while it is strangled
            continue
        links[(a, b)].append(edge)
        if not _allowed(rules, a, b, edge["kind"]):
            result.violations.append(
                Violation(a, b, edge["kind"], edge["source"], edge["target"], edge["evidence"])
            )
    graph = nx.DiGraph()
    for (a, b), edges in links.items():
        if a != MONOLITH and b != MONOLITH:
            graph.add_edge(a, b, weight=sum(coupling.edge_weight(e) for e in edges))
    for cycle in sorted(nx.simple_cycles(graph), key=lambda c: (len(c), c)):
        hops = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        weakest = min(hops, key=lambda h: graph[h[0]][h[1]]["weight"])
        result.cycles.append(
            {
                "services": cycle,
                "break": {
                    "from": weakest[0],
                    "to": weakest[1],
                    "weight": round(graph[weakest[0]][weakest[1]]["weight"], 2),
                    "edges": [
                        {
                            "source": e["source"],
                            "target": e["target"],
                            "kind": e["kind"],
                            "evidence": e["evidence"],
                        }
                        for e in links[weakest]
                    ],
                },  # fmt: skip
            }
        )
    result.violations.sort(
        key=lambda v: (v.source_service, v.target_service, v.kind, v.source, v.target)
    )
    return result


# --- a baseline: accept today's debt, fail on anything new --------------------------------
def violation_key(v: Violation) -> str:
    return f"{v.source_service} -> {v.target_service}: {v.kind} {v.source} -> {v.target}"


def cycle_key(cycle: dict[str, Any]) -> str:
    services = cycle["services"]
    start = services.index(
        min(services)
    )  # one spelling per cycle, whichever service it was found from
    turned = services[start:] + services[:start]
    return "cycle: " + " -> ".join([*turned, turned[0]])


def keys(result: Result) -> list[str]:
    return sorted(
        {violation_key(v) for v in result.violations} | {cycle_key(c) for c in result.cycles}
    )


def read_baseline(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnalyzerError(
            f"baseline {path} does not exist; write it with --update-baseline"
        ) from None
    except (OSError, ValueError) as exc:
        raise AnalyzerError(
            f"baseline {path} cannot be read ({exc}); write it again with --update-baseline"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("known"), list):
        raise AnalyzerError(
            f"baseline {path} is not a figkit baseline; write it again with --update-baseline"
        )
    return set(map(str, data["known"]))


def write_baseline(path: Path, result: Result) -> int:
    known = keys(result)
    text = json.dumps({"about": "figkit check: couplings across boundaries accepted as known debt",
                       "known": known}, indent=2) + "\n"  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise AnalyzerError(f"cannot write the baseline {path} ({exc.strerror})") from None
    return len(known)


def against_baseline(result: Result, known: set[str]) -> tuple[Result, int, list[str]]:
    """Only what is new; how many known ones were seen; the known ones that are gone (fixed)."""
    new = Result(
        [v for v in result.violations if violation_key(v) not in known],
        [c for c in result.cycles if cycle_key(c) not in known],
    )
    seen = set(keys(result))
    return new, len(seen & known), sorted(known - seen)


# --- `figkit check --init`: the suggested split as a starting point ------------------------
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def suggested_rules(data: dict[str, Any]) -> Rules:
    """The suggested split of a decomposed analysis as boundaries: each app in the service that
    holds most of its elements. A shared kernel is a boundary every service may use."""
    coupling = from_analysis(data)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for service in data.get("services", []):
        for element in [*service["models"], *service.get("modules", [])]:
            if element in coupling.elements:
                votes[coupling.elements[element].app][service["name"]] += 1
    boundaries: dict[str, list[str]] = defaultdict(list)
    for app in sorted(votes):
        boundaries[votes[app].most_common(1)[0][0]].append(app)
    kernels = [
        s["name"]
        for s in data.get("services", [])
        if s.get("kind") == "shared_kernel" and s["name"] in boundaries
    ]
    allow = tuple(Allow(s, k) for k in kernels for s in sorted(boundaries) if s != k)
    return Rules({k: tuple(v) for k, v in sorted(boundaries.items())}, allow)


def rules_toml(rules: Rules, in_pyproject: bool) -> str:
    """The rules as TOML tables to append to a config: [tool.figkit.boundaries] in a
    pyproject.toml, [boundaries] in a figkit.toml."""
    prefix = "tool.figkit." if in_pyproject else ""

    def key(name: str) -> str:
        return name if _BARE_KEY.fullmatch(name) else json.dumps(name)

    lines = [
        "# Written by `figkit check --init` from the suggested split: a starting point, edit it.",
        f"[{prefix}boundaries]",
        *(f"{key(name)} = {json.dumps(list(apps))}" for name, apps in rules.boundaries.items()),
    ]
    for rule in rules.allow:
        lines += ["", f"[[{prefix}allow]]", f"from = {json.dumps(rule.source)}",
                  f"to = {json.dumps(rule.target)}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def init_config(target: Path, rules: Rules) -> None:
    """Append the rules to TARGET (created if missing) without touching what is there; refuse
    when it declares boundaries already or the appended tables would not read back."""
    import tomllib

    in_pyproject = target.name == "pyproject.toml"
    try:
        old = target.read_text() if target.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalyzerError(f"cannot read {target} ({exc})") from None
    try:
        parsed = tomllib.loads(old)
    except tomllib.TOMLDecodeError as exc:
        raise AnalyzerError(f"{target} cannot be read as TOML ({exc}); fix it first") from None
    section = parsed.get("tool", {}).get("figkit", {}) if in_pyproject else parsed
    if "boundaries" in section or "allow" in section:
        raise AnalyzerError(
            f"{target} declares boundaries already; edit them there, or remove them to write "
            "the suggested split again"
        )
    text = rules_toml(rules, in_pyproject)
    new = old + ("\n" if old and not old.endswith("\n") else "") + ("\n" if old else "") + text
    try:
        back = tomllib.loads(new)
        back = back.get("tool", {}).get("figkit", {}) if in_pyproject else back
        fits = back.get("boundaries") == {k: list(v) for k, v in rules.boundaries.items()}
    except tomllib.TOMLDecodeError:
        fits = False
    if not fits:
        raise AnalyzerError(
            f"cannot add [{'tool.figkit.' if in_pyproject else ''}boundaries] to {target} "
            "without rewriting it (an inline figkit table?); add the boundaries by hand"
        )
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(new)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except OSError as exc:
        raise AnalyzerError(
            f"cannot write {target} ({exc.strerror}); nothing was changed"
        ) from None
