"""Score a suggested split of apps against one written by hand by a domain expert.

Pure functions, no I/O: bench/score_expert_splits.py reads the files and prints. Two
measures, both over the apps present on both sides:

- pairwise precision, recall and F1 of the relation "these two apps are in the same
  service" (a pair of apps is a true positive when both splits put them together);
- the adjusted Rand index of Hubert & Arabie (1985), "Comparing partitions", Journal of
  Classification 2(1):193-218: the Rand index corrected for chance, 1.0 for identical
  partitions, about 0 for a random one, negative when worse than chance.

The shared kernel (apps that are a library, not a service) counts as one group on each side:
two apps both marked shared on both sides are a pair in agreement. An app shared on one side
and in a service on the other is a disagreement like any other.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

SHARED_BLOCK = "(shared kernel)"
"""The one group that every shared-kernel app belongs to, on both sides."""

EXPERT_KEYS = frozenset({"project", "commit", "reasons", "services", "shared_kernel", "identity"})

Partition = Mapping[str, str]
"""An app label -> the name of the group (service) it belongs to."""


class ScoringError(ValueError):
    """Bad input (an expert file or an analysis.json); the message is one line."""


@dataclass(frozen=True)
class ExpertSplit:
    """A decomposition written by hand: services of app labels, and a shared kernel."""

    services: dict[str, tuple[str, ...]]
    shared_kernel: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()
    reasons: str = ""
    project: str | None = None
    commit: str | None = None

    def partition(self) -> dict[str, str]:
        """Every app to its service's name, shared-kernel apps to SHARED_BLOCK."""
        groups = {app: f"service:{name}" for name, apps in self.services.items() for app in apps}
        groups.update(dict.fromkeys(self.shared_kernel, SHARED_BLOCK))
        return groups


def _string_list(value: Any, where: str, source: str, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScoringError(f"{source}: {where} must be a list of app labels (non-empty strings)")
    if not value and not allow_empty:
        raise ScoringError(f"{source}: {where} is empty; a service holds at least one app")
    return tuple(value)


def parse_expert(text: str, source: str = "<expert>") -> ExpertSplit:
    """Read and validate an expert .toml; every app must be listed exactly once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScoringError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - EXPERT_KEYS)
    if unknown:
        raise ScoringError(
            f"{source}: unknown key {unknown[0]!r}; expected {', '.join(sorted(EXPERT_KEYS))}"
        )
    reasons = data.get("reasons")
    if not isinstance(reasons, str) or not reasons.strip():
        raise ScoringError(f"{source}: 'reasons' must be a non-empty string saying why")
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ScoringError(f"{source}: [services] must be a table of service = [app labels]")
    for key in ("project", "commit"):
        if key in data and not isinstance(data[key], str):
            raise ScoringError(f"{source}: {key!r} must be a string")

    parsed = {
        name: _string_list(apps, f"services.{name}", source, allow_empty=False)
        for name, apps in services.items()
    }
    shared = _string_list(data.get("shared_kernel", []), "shared_kernel", source, allow_empty=True)
    identity = _string_list(data.get("identity", []), "identity", source, allow_empty=True)

    seen: dict[str, str] = {}
    listings = [(f"services.{n}", apps) for n, apps in parsed.items()]
    for where, apps in [*listings, ("shared_kernel", shared)]:
        for app in apps:
            if app in seen:
                raise ScoringError(
                    f"{source}: app {app!r} is listed twice, in {seen[app]} and in {where}"
                )
            seen[app] = where
    for app in identity:
        if not seen.get(app, "").startswith("services."):
            raise ScoringError(
                f"{source}: identity app {app!r} must also be in a service of [services]"
            )
    return ExpertSplit(
        services=parsed,
        shared_kernel=shared,
        identity=identity,
        reasons=reasons.strip(),
        project=data.get("project"),
        commit=data.get("commit"),
    )


def _shared_kernel_apps(value: Any) -> list[str]:
    """The app labels of an analysis' top-level `shared_kernel`, in any of its likely shapes.

    Accepted: a list of app labels, a list of objects with `apps`, or one object with `apps`.
    """
    items = value.get("apps") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ScoringError("analysis: 'shared_kernel' must be a list of apps or of {apps: [...]}")
    apps: list[str] = []
    for item in items:
        if isinstance(item, str):
            apps.append(item)
        elif isinstance(item, dict) and isinstance(item.get("apps"), list):
            apps.extend(a for a in item["apps"] if isinstance(a, str))
        else:
            raise ScoringError(
                f"analysis: shared_kernel entry {item!r} is neither a label nor {{apps}}"
            )
    return apps


def suggested_partition(analysis: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The suggestion in an analysis.json as app -> group, and warnings about it.

    A service with `kind == "shared_kernel"`, and every app of a top-level `shared_kernel`,
    go in SHARED_BLOCK (the top-level list wins over a service). An app in two services is
    scored in the first and named in a warning.
    """
    services = analysis.get("services")
    if not isinstance(services, list):
        raise ScoringError("analysis: 'services' must be a list (is this an analysis.json?)")
    groups: dict[str, str] = {}
    warnings: list[str] = []
    for index, service in enumerate(services):
        if not isinstance(service, dict) or not isinstance(service.get("apps"), list):
            raise ScoringError(f"analysis: services[{index}] has no 'apps' list")
        name = str(service.get("name", index))
        block = SHARED_BLOCK if service.get("kind") == "shared_kernel" else f"service:{name}"
        for app in service["apps"]:
            if not isinstance(app, str):
                raise ScoringError(f"analysis: services[{index}].apps holds {app!r}, not a label")
            if app in groups and groups[app] != block:
                warnings.append(
                    f"app {app!r} is in several services ({groups[app]}, {block}); "
                    f"scored in {groups[app]}"
                )
                continue
            groups[app] = block
    if analysis.get("shared_kernel") is not None:
        for app in _shared_kernel_apps(analysis["shared_kernel"]):
            groups[app] = SHARED_BLOCK
    return groups, warnings


def per_app_partition(apps: Iterable[str]) -> dict[str, str]:
    """The baseline: every app its own service (no shared kernel either)."""
    return {app: f"app:{app}" for app in apps}


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class PairCounts:
    """Pairs of apps: together on both sides, only in the suggestion, only in the expert's."""

    together_both: int
    together_suggested: int
    together_expert: int
    all_pairs: int

    @property
    def tp(self) -> int:
        return self.together_both

    @property
    def fp(self) -> int:
        return self.together_suggested - self.together_both

    @property
    def fn(self) -> int:
        return self.together_expert - self.together_both


def pair_counts(expert: Partition, suggested: Partition) -> PairCounts:
    """Count pairs through the contingency table; both partitions must cover the same apps."""
    if set(expert) != set(suggested):
        raise ValueError("both partitions must hold the same apps; restrict them first")
    cells = Counter((expert[app], suggested[app]) for app in expert)
    return PairCounts(
        together_both=sum(_pairs(n) for n in cells.values()),
        together_suggested=sum(_pairs(n) for n in Counter(suggested.values()).values()),
        together_expert=sum(_pairs(n) for n in Counter(expert.values()).values()),
        all_pairs=_pairs(len(expert)),
    )


def adjusted_rand_index(expert: Partition, suggested: Partition) -> float:
    """Hubert & Arabie's ARI: (index - expected) / (max - expected), computed exactly.

    index = Σ C(n_ij, 2) over the contingency cells, expected = Σ C(a_i, 2) Σ C(b_j, 2) /
    C(n, 2), max = (Σ C(a_i, 2) + Σ C(b_j, 2)) / 2. The denominator is zero only when both
    partitions are all singletons or both one group, that is identical: then 1.0.
    """
    counts = pair_counts(expert, suggested)
    if counts.all_pairs == 0:
        return 1.0
    expected = Fraction(counts.together_expert * counts.together_suggested, counts.all_pairs)
    maximum = Fraction(counts.together_expert + counts.together_suggested, 2)
    if maximum == expected:
        return 1.0
    return float((counts.together_both - expected) / (maximum - expected))


@dataclass(frozen=True)
class Score:
    """One split measured against the expert's, over the apps both hold."""

    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None
    ari: float
    services: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "ari": self.ari,
            "services": self.services,
        }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score(expert: Partition, suggested: Partition) -> Score:
    """Pairwise precision, recall, F1 and the ARI of `suggested` against `expert`.

    A ratio with nothing to count is None: precision when the suggestion puts no two apps
    together, recall when the expert does not, F1 when neither does.
    """
    counts = pair_counts(expert, suggested)
    tp, fp, fn = counts.tp, counts.fp, counts.fn
    return Score(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        ari=adjusted_rand_index(expert, suggested),
        services=len(set(suggested.values())),
    )


@dataclass(frozen=True)
class Comparison:
    """The suggestion and the per-app baseline, each scored against the expert's split."""

    apps: tuple[str, ...]
    only_expert: tuple[str, ...]
    only_suggestion: tuple[str, ...]
    suggestion: Score
    baseline: Score
    expert_services: int
    kernel_expert: tuple[str, ...] = ()
    kernel_suggestion: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def kernel_jaccard(self) -> float | None:
        """How far the two sides agree on which apps are library: |both| / |either|.

        F1 and ARI see the kernel only as one more group, whatever it is called; this says
        whether the suggestion calls it a library. None when neither side has a kernel.
        """
        expert, suggestion = set(self.kernel_expert), set(self.kernel_suggestion)
        return _ratio(len(expert & suggestion), len(expert | suggestion))

    def verdict(self) -> str:
        """One line saying which of the two agrees more with the expert, F1 first."""
        wins = [
            name
            for name, ours, theirs in (
                ("F1", self.suggestion.f1, self.baseline.f1),
                ("ARI", self.suggestion.ari, self.baseline.ari),
            )
            if ours is not None and (theirs is None or ours > theirs)
        ]
        if len(wins) == 2:
            return "the suggestion agrees with the expert better than per-app on F1 and ARI"
        if not wins:
            return "the suggestion does NOT beat the per-app baseline on F1 or ARI"
        return f"the suggestion beats the per-app baseline on {wins[0]} only"

    def as_dict(self) -> dict[str, Any]:
        return {
            "apps_scored": len(self.apps),
            "expert_services": self.expert_services,
            "only_expert": list(self.only_expert),
            "only_suggestion": list(self.only_suggestion),
            "suggestion": self.suggestion.as_dict(),
            "per_app_baseline": self.baseline.as_dict(),
            "verdict": self.verdict(),
            "shared_kernel": {
                "expert": list(self.kernel_expert),
                "suggestion": list(self.kernel_suggestion),
                "jaccard": self.kernel_jaccard,
            },
            "warnings": list(self.warnings),
        }


def compare(expert: ExpertSplit, analysis: Mapping[str, Any]) -> Comparison:
    """Score the analysis' suggestion and the per-app baseline over the apps both sides hold."""
    truth = expert.partition()
    suggested, warnings = suggested_partition(analysis)
    common = tuple(sorted(set(truth) & set(suggested)))
    if not common:
        raise ScoringError(
            "no app is on both sides: do the expert file and the analysis describe one project?"
        )
    truth_common = {app: truth[app] for app in common}
    return Comparison(
        apps=common,
        only_expert=tuple(sorted(set(truth) - set(suggested))),
        only_suggestion=tuple(sorted(set(suggested) - set(truth))),
        suggestion=score(truth_common, {app: suggested[app] for app in common}),
        baseline=score(truth_common, per_app_partition(common)),
        expert_services=len(set(truth_common.values())),
        kernel_expert=tuple(a for a in common if truth[a] == SHARED_BLOCK),
        kernel_suggestion=tuple(a for a in common if suggested[a] == SHARED_BLOCK),
        warnings=warnings,
    )
