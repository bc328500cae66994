"""How many apps, models, routes and services an analysis holds: one count for every output.

`count(data)` takes the analysis.json dict (after `figkit analyze` or `figkit plan`) and returns
`Counts`; the terminal summary, report.md, report.html and analysis.json's `counts` object all
show it, so they never disagree (the terminal once said 59 models where report.md said 69, and
routes were counted once per HTTP method). Each `Count` carries `what`, a short phrase saying
what is counted, for a legend or a tooltip; `among` holds sorts that are part of the count
(conditional routes), `apart` sorts seen but not counted (external apps and routes, abstract
and proxy models, the shared kernel).

What is counted:
- apps: the project's own installed apps (third-party apps are listed apart as `external`);
- models: own concrete models, one per table: abstract bases and proxies (which reuse their
  concrete model's table) are not counted, third-party models neither;
- routes: one per URL pattern of the project's own urlconf, whatever its HTTP methods;
  third-party includes (`"external": true`) are counted apart, and `conditional` says how many
  own routes sit under a settings condition that was not known statically;
- services: suggested services; a shared kernel (`"kind": "shared_kernel"`, a library to vendor
  or publish) is not a service and is counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

WHAT = {
    "apps": "the project's own installed apps (third-party apps apart)",
    "models": "own concrete models, one per table (abstract bases and proxies apart)",
    "routes": "own URL patterns, one each whatever its HTTP methods (third-party includes apart)",
    "services": "suggested services (a shared kernel is a library, apart)",
}


@dataclass(frozen=True)
class Count:
    """One number, what it counts, how many of them are of a note-worthy sort (`among`, e.g.
    conditional: 2) and what was seen but left out of it (`apart`, e.g. external: 3)."""

    n: int
    what: str
    among: dict[str, int] = field(default_factory=dict)
    apart: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"count": self.n, "what": self.what, **self.among, **self.apart}

    def aside(self) -> str:
        """'3 conditional; 2 external not counted' for the non-zero sorts, or ''."""

        def listed(sorts: dict[str, int]) -> str:
            return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in sorts.items() if n)

        among, apart = listed(self.among), listed(self.apart)
        return "; ".join([among] * bool(among) + [f"{apart} not counted"] * bool(apart))


@dataclass(frozen=True)
class Counts:
    apps: Count
    models: Count
    routes: Count
    services: Count

    def items(self) -> list[tuple[str, Count]]:
        return [(k, getattr(self, k)) for k in WHAT]

    def as_json(self) -> dict[str, Any]:
        """analysis.json's `counts` object."""
        return {name: c.as_json() for name, c in self.items()}

    def line(self) -> str:
        """'12 apps (3 external not counted), 59 models, 140 routes (2 conditional), 5 services'."""
        parts = []
        for name, c in self.items():
            aside = c.aside()
            noun = name if c.n != 1 else name[:-1]
            parts.append(f"{c.n} {noun}" + (f" ({aside})" if aside else ""))
        return ", ".join(parts)

    def legend(self) -> list[str]:
        """One line per count saying what it counts: 'routes: own URL patterns, ...'."""
        return [f"{name}: {c.what}" for name, c in self.items()]


def is_counted_model(model: Mapping[str, Any]) -> bool:
    """Whether a model (an entry of analysis.json's `models`) is one the `models` count counts."""
    return not model.get("external") and not model.get("abstract") and not model.get("proxy")


def counted_models(labels: Iterable[str], data: Mapping[str, Any]) -> int:
    """How many of these model labels (a service's `models`) the `models` count would count."""
    by_label = {m["label"]: m for m in data.get("models", [])}
    return sum(1 for label in labels if label in by_label and is_counted_model(by_label[label]))


def count(data: Mapping[str, Any]) -> Counts:
    """The counts of an analysis.json dict; services are 0 before the decomposition."""
    apps = data.get("apps", [])
    models = data.get("models", [])
    own_routes: dict[str, bool] = {}  # pattern -> under an unknown settings condition
    external_routes: set[str] = set()
    for route in data.get("routes", []):
        pattern = route.get("pattern", "")
        if route.get("external"):
            external_routes.add(pattern)
        else:
            own_routes[pattern] = own_routes.get(pattern, False) or bool(route.get("conditional"))
    services = data.get("services", [])
    kernel = [s for s in services if s.get("kind") == "shared_kernel"]
    return Counts(
        apps=Count(
            sum(1 for a in apps if not a.get("external")),
            WHAT["apps"],
            apart={"external": sum(1 for a in apps if a.get("external"))},
        ),
        models=Count(
            sum(1 for m in models if is_counted_model(m)),
            WHAT["models"],
            apart={
                "abstract": sum(1 for m in models if not m.get("external") and m.get("abstract")),
                "proxy": sum(1 for m in models if not m.get("external") and m.get("proxy")),
            },
        ),
        routes=Count(
            len(own_routes),
            WHAT["routes"],
            among={"conditional": sum(own_routes.values())},
            apart={"external": len(external_routes)},
        ),
        services=Count(
            len(services) - len(kernel), WHAT["services"], apart={"shared_kernel": len(kernel)}
        ),
    )
