"""Routes of ``get_model_urls("app", "model", detail=...)``: the views registered for that
model with ``register_model_view`` (as netbox and its plugins build them), either on a class
(``@register_model_view(Site, "map")``) or for every model that subclasses a mixin (a
registration written under ``if issubclass(model, JournalingMixin):``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.link.routes import RouteBuilder, Scope


class ViewRegistry:
    def __init__(
        self, builder: RouteBuilder, model_label: Callable[[str], str | None],
        model_classes: Mapping[str, str],
    ) -> None:  # fmt: skip
        self.builder = builder
        self.model_label = model_label  # resolves a model reference to its label
        self.model_classes = model_classes  # qualname -> label of each concrete model
        self._registry: dict[tuple[str, bool], list] | None = None

    def _labels(self, model: str) -> list[str]:
        if not model.startswith("sub:"):
            label = self.model_label(model)
            return [label] if label is not None else []
        mixin = self.builder.index.resolve(model[4:])
        return [
            label
            for qualname, label in self.model_classes.items()
            if any(name == mixin for name, _ in self.builder.class_chain(qualname))
        ]

    def _build(self) -> dict[tuple[str, bool], list]:
        registry: dict[tuple[str, bool], list] = {}
        for facts in self.builder.index.files:
            for registration in facts.view_registrations:
                for label in self._labels(registration.model):
                    key = (label.lower(), registration.detail)
                    registry.setdefault(key, []).append((registration, facts.path))
        return registry

    def expand(self, spec: str, scope: Scope) -> None:
        if self._registry is None:
            self._registry = self._build()
        label, _, kind = spec.rpartition(":")
        model_name = label.rpartition(".")[2]
        for registration, file in self._registry.get((label.lower(), kind == "detail"), []):
            prefix = scope.prefix
            pattern = f"{prefix}{registration.path}/" if registration.path else prefix
            name = f"{model_name}_{registration.name}" if registration.name else model_name
            view = self.builder.index.resolve(registration.view)
            self.builder.add(pattern, view, scope.qualify(name), self.builder.methods(view), file,
                             registration.line, conditional=scope.condition)  # fmt: skip
