"""Small analysis.json documents built by hand, for the boundary rules' tests (one fact each)."""

from __future__ import annotations

from typing import Any


class Project:
    """An analysis.json in the making: apps with modules and models, edges, routes."""

    def __init__(self, package: str = "proj") -> None:
        self.package = package
        self.apps: dict[str, dict[str, Any]] = {}
        self.models: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.routes: list[dict[str, Any]] = []

    def app(self, label: str, modules: tuple[str, ...] = ("views",), models: tuple[str, ...] = (),
            name: str | None = None) -> Project:  # fmt: skip
        dotted = name or f"{self.package}.{label}"
        self.apps[label] = {
            "label": label,
            "name": dotted,
            "path": dotted.replace(".", "/"),
            "models": [f"{label}.{m}" for m in models],
            "modules": [f"{dotted}.{m}" for m in modules],
            "external": False,
        }
        for model in models:
            self.models.append(
                {
                    "label": f"{label}.{model}",
                    "app": label,
                    "table": f"{label}_{model.lower()}",
                    "file": f"{dotted.replace('.', '/')}/models.py",
                    "line": 1,
                    "abstract": False,
                    "proxy": False,
                }  # fmt: skip
            )
        return self

    def _app_of(self, node: str) -> str | None:
        if node in {m["label"] for m in self.models}:
            return node.split(".")[0]
        for label, app in self.apps.items():
            if node in app["modules"]:
                return label
        return None

    def edge(self, source: str, target: str, kind: str = "import", weight: int = 1) -> Project:
        self.edges.append(
            {
                "source": source,
                "target": target,
                "source_app": self._app_of(source),
                "target_app": self._app_of(target),
                "kind": kind,
                "weight": weight,
                "evidence": [{"file": "x.py", "line": 1}],
            }  # fmt: skip
        )
        return self

    def route(self, pattern: str, view: str, app: str | None, **extra: Any) -> Project:
        self.routes.append({"pattern": pattern, "view": view, "app": app, "name": None, **extra})
        return self

    def cluster(
        self, label: str, models: tuple[str, ...], routes: int = 2, places: int = 5
    ) -> Project:
        """An app whose views read and write its own models, with some routes."""
        self.app(label, modules=("views", "services"), models=models)
        views, services = f"{self.package}.{label}.views", f"{self.package}.{label}.services"
        self.edge(views, services, "import", places)
        for model in models:
            self.edge(views, f"{label}.{model}", "orm_read", places)
            self.edge(services, f"{label}.{model}", "orm_write", places)
        for i in range(routes):
            self.route(f"{label}/{i}/", f"{views}.view{i}", label)
        return self

    def doc(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "project": {
                "root": "/x",
                "settings_module": f"{self.package}.settings",
                "urlconf": None,
            },
            "apps": list(self.apps.values()),
            "models": self.models,
            "routes": self.routes,
            "edges": self.edges,
            "services": [],
            "metrics": {"suggested": {}, "per_app": {}},
            "plan": [],
            "warnings": [],
        }
