"""How good a split is: the decomposition literature's metrics, on the element graph.

Definitions follow IBM Mono2Micro (Kalia et al., FSE 2021) and the works it cites; each is
written out with its formula in docs/analyzer.md#metrics. Every split (the suggestion, the
one-service-per-app baseline) is measured on the same elements (models and modules), so
the figures compare.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

from analyzer.decompose.coupling import KERNEL, Coupling, cross_counts, route_element
from analyzer.edge_kinds import cut_buckets

# The quality metrics and which way is better, in the order they are reported.
DIRECTIONS: dict[str, str] = {
    "modularity": "higher",
    "sm": "higher",
    "icp": "lower",
    "ifn": "lower",
    "ned": "lower",
    "bcp": "lower",
}
NED_BOUNDS = (5, 20)  # Mono2Micro: a partition of 5 to 20 classes is "non-extreme"
CUT_KINDS = cut_buckets()  # bucket -> kinds, from analyzer/edge_kinds.py


def _services(assignment: dict[str, str]) -> dict[str, set[str]]:
    services: dict[str, set[str]] = defaultdict(set)
    for element, service in assignment.items():
        services[service].add(element)
    return services


def structural_modularity(coupling: Coupling, assignment: dict[str, str]) -> float:
    """SM = 1/K sum_i mu_i/N_i^2 - 1/(K(K-1)/2) sum_{i<j} sigma_ij/(2 N_i N_j); higher is better.

    mu_i: dependencies inside service i; sigma_ij: between i and j (distinct element pairs).
    """
    services = _services(assignment)
    k = len(services)
    pairs = {(min(e["source"], e["target"]), max(e["source"], e["target"])) for e in coupling.edges}
    inside: Counter[str] = Counter()
    between: Counter[tuple[str, str]] = Counter()
    for a, b in pairs:
        sa, sb = assignment[a], assignment[b]
        if sa == sb:
            inside[sa] += 1
        else:
            between[(min(sa, sb), max(sa, sb))] += 1
    cohesion = sum(inside[s] / len(members) ** 2 for s, members in services.items()) / k
    if k == 1:
        return cohesion
    coupling_term = sum(
        between[(a, b)] / (2 * len(services[a]) * len(services[b]))
        for a, b in combinations(sorted(services), 2)
    ) / (k * (k - 1) / 2)
    return cohesion - coupling_term


def inter_call_percentage(coupling: Coupling, assignment: dict[str, str]) -> float:
    """ICP: the share of coupling volume, log-scaled per edge (ln(1 + places)), that crosses services; lower is better."""
    total = crossing = 0.0
    for edge in coupling.edges:
        volume = math.log1p(int(edge["weight"]))
        total += volume
        if assignment[edge["source"]] != assignment[edge["target"]]:
            crossing += volume
    return crossing / total if total else 0.0


def interface_number(coupling: Coupling, assignment: dict[str, str]) -> float:
    """IFN: mean over services of its interfaces, the elements that other services depend on; lower is better."""
    interfaces: dict[str, set[str]] = defaultdict(set)
    for edge in coupling.edges:
        source, target = edge["source"], edge["target"]
        if assignment[source] != assignment[target]:
            interfaces[assignment[target]].add(target)
    services = set(assignment.values())
    return sum(len(interfaces[s]) for s in services) / len(services)


def non_extreme_distribution(
    assignment: dict[str, str], bounds: tuple[int, int] = NED_BOUNDS
) -> float:
    """NED = 1 - (elements in services of bounds[0]..bounds[1] elements) / all elements; lower is better."""
    sizes = Counter(assignment.values())
    low, high = bounds
    fine = sum(n for n in sizes.values() if low <= n <= high)
    return 1 - fine / len(assignment) if assignment else 0.0


def route_reach(coupling: Coupling) -> dict[str, set[str]]:
    """Which elements each route reaches: its view's module and what that module uses, two hops deep."""
    out: dict[str, set[str]] = defaultdict(set)
    for edge in coupling.edges:
        out[edge["source"]].add(edge["target"])
    reach: dict[str, set[str]] = {}
    for i, route in enumerate(coupling.routes):
        start = route_element(coupling, route)
        if start is None:
            continue
        seen = {start}
        frontier = {start}
        for _ in range(2):
            frontier = {t for s in frontier for t in out.get(s, ())} - seen
            seen |= frontier
        reach[f"{i}:{route['pattern']}"] = seen
    return reach


def business_context_purity(coupling: Coupling, assignment: dict[str, str]) -> float:
    """BCP: mean over services of the entropy (bits) of the routes their elements serve; lower is better.

    Entry points are the URL routes: an element serves every route that reaches it.
    """
    per_service: dict[str, Counter[str]] = defaultdict(Counter)
    for route, elements in route_reach(coupling).items():
        for element in elements:
            per_service[assignment[element]][route] += 1
    entropies = []
    for counts in per_service.values():
        total = sum(counts.values())
        entropies.append(-sum(c / total * math.log2(c / total) for c in counts.values()))
    return sum(entropies) / len(entropies) if entropies else 0.0


def modularity(coupling: Coupling, assignment: dict[str, str]) -> float:
    """Newman's weighted modularity of the split on the element graph, as networkx defines it
    (Q = sum_c L_c/m - (d_c/2m)^2); computed from cached pairs, since every candidate split
    is scored. tests/analyzer/test_decompose.py checks it against networkx.community.modularity."""
    pairs, degree, m = coupling.weighted_pairs()
    if m == 0:
        return 0.0
    inside: dict[str, float] = defaultdict(float)
    total_degree: dict[str, float] = defaultdict(float)
    for a, b, w in pairs:
        if assignment[a] == assignment[b]:
            inside[assignment[a]] += w
    for element, d in degree.items():
        total_degree[assignment[element]] += d
    return sum(inside[c] / m - (total_degree[c] / (2 * m)) ** 2 for c in total_degree)


def cut(coupling: Coupling, assignment: dict[str, str]) -> dict[str, int]:
    """What the split cuts, in places: foreign keys, atomic blocks, joins, raw SQL, writes, reads."""
    crossing = cross_counts(coupling, assignment)
    return {name: sum(crossing.get(k, 0) for k in kinds) for name, kinds in CUT_KINDS.items()}


def measure(coupling: Coupling, assignment: dict[str, str]) -> dict[str, Any]:
    """Every metric of one split, under the same keys for any split."""
    return {
        "services": len(set(assignment.values()) - {KERNEL}),
        "modularity": round(modularity(coupling, assignment), 4),
        "sm": round(structural_modularity(coupling, assignment), 4),
        "icp": round(inter_call_percentage(coupling, assignment), 4),
        "ifn": round(interface_number(coupling, assignment), 4),
        "ned": round(non_extreme_distribution(assignment), 4),
        "bcp": round(business_context_purity(coupling, assignment), 4),
        "cut": cut(coupling, assignment),
    }


# Why a split loses one metric to per-app: what the metric rewards, in a few words.
LOSS_REASON = {
    "modularity": "modularity (its services are less dense than chance would make them)",
    "sm": "SM (it rewards many small, cohesive services)",
    "icp": "ICP (more coupling crosses its services)",
    "ifn": "IFN (its services expose more elements to each other)",
    "ned": "NED (services above 20 elements count as extreme)",
    "bcp": "BCP (a larger service serves more routes)",
}


def losing_note(suggested: dict[str, Any], per_app: dict[str, Any], suggestion: Any = None) -> str:
    """When the per-app split does better on most quality metrics, say so first, which ones and
    why, and what the suggestion buys for it: the trade-off, in two or three sentences."""
    if not suggested or not per_app:
        return ""
    lost = [
        key
        for key, better in DIRECTIONS.items()
        if suggested[key] != per_app[key]
        and (suggested[key] > per_app[key]) != (better == "higher")
    ]
    if len(lost) * 2 <= len(DIRECTIONS):
        return ""
    cut_s, cut_b = sum(suggested["cut"].values()), sum(per_app["cut"].values())
    buys = (
        f"it cuts {cut_s} places where per-app cuts {cut_b}"
        if cut_s < cut_b
        else "it does not cut fewer places either"
    )
    kernel = (
        " The shared kernel is measured as one more group, though it is vendored as a library."
        if getattr(suggestion, "kernel", None)
        else ""
    )
    return (
        f"Where one service per app does better: {'; '.join(LOSS_REASON[k] for k in lost)}. "
        f"Trade-off: the suggestion trades "
        f"them for fewer, larger services, with the shared kernel, API layers and hub entities "
        f"set apart, and {buys}; read the cut counts and the plan before choosing.{kernel}"
    )
