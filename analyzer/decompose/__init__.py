"""cluster -> metrics -> plan: from the coupling in analysis.json to services, their metrics and an extraction plan.

`decompose(data, options)` returns the contract with `services`, `metrics` and `plan` filled;
it reads and writes plain data, so it runs after `figkit analyze` or on a saved analysis.json.
"""

from __future__ import annotations

from typing import Any

from analyzer.decompose.boundaries import Options, services_json, suggest
from analyzer.decompose.coupling import from_analysis
from analyzer.decompose.metrics import losing_note, measure
from analyzer.decompose.plan import make_plan

__all__ = ["Options", "decompose"]


def decompose(data: dict[str, Any], options: Options | None = None) -> dict[str, Any]:
    options = options or Options()
    coupling = from_analysis(data, options.weights)
    if not coupling.elements:  # nothing of its own to split (a settings-only project): say so
        note = "no models or modules of the project's own apps: nothing to split"
        return {
            **data,
            "services": [],
            "plan": [],
            "metrics": {"suggested": {}, "per_app": {}, "note": note},
        }
    suggestion = suggest(coupling, options)
    extracted = set(options.extracted)
    suggested = measure(coupling, suggestion.assignment)
    per_app = measure(coupling, suggestion.baseline)
    return {
        **data,
        "services": services_json(coupling, suggestion.assignment, extracted, suggestion),
        "metrics": {
            "objective": suggestion.objective,
            "offered": suggestion.offered,
            "note": " ".join(
                x for x in (losing_note(suggested, per_app, suggestion), suggestion.note) if x
            ),
            "granularity": options.granularity,
            "seed": options.seed,
            "candidates": suggestion.candidates,
            "weights": coupling.weights,
            "suggested": suggested,
            "per_app": per_app,
        },
        "plan": make_plan(coupling, suggestion.assignment, extracted),  # the kernel is no step
    }
