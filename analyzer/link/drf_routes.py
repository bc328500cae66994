"""DRF routers as Django resolves them: the URLs ``SimpleRouter.get_urls`` builds from each
registration, under the router's own options.

Read statically: ``trailing_slash`` (given to the router, or set as ``self.trailing_slash`` in a
subclass), SimpleRouter vs DefaultRouter (the API root and format suffixes, and a subclass's
``include_root_view`` / ``include_format_suffixes``), a subclass's own ``routes`` list,
drf-nested-routers (``NestedSimpleRouter(parent, "prefix", lookup="x")``) and drf-extensions'
nested registrations. Patterns keep DRF's regex pieces except lookups, which are written
``<name>`` like Django's converters (``normalise_pattern`` makes both forms compare equal).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.facts import ClassDef, RouterDef, RouterRegistration, RouteTemplate, ViewAction

if TYPE_CHECKING:
    from analyzer.link.routes import RouteBuilder, Scope

_LIST = (("GET", "list"), ("POST", "create"))
_DETAIL = (("GET", "retrieve"), ("PUT", "update"), ("PATCH", "partial_update"),
           ("DELETE", "destroy"))  # fmt: skip
DEFAULT_TEMPLATES = (
    RouteTemplate("^{prefix}{trailing_slash}$", "{basename}-list", _LIST, False),
    RouteTemplate("^{prefix}/{url_path}{trailing_slash}$", "{basename}-{url_name}", (), False, True),
    RouteTemplate("^{prefix}/{lookup}{trailing_slash}$", "{basename}-detail", _DETAIL, True),
    RouteTemplate("^{prefix}/{lookup}/{url_path}{trailing_slash}$", "{basename}-{url_name}", (),
                  True, True),
)  # fmt: skip
VIEWSET_ACTIONS = {
    "ModelViewSet": ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    "ReadOnlyModelViewSet": ("list", "retrieve"),
    "ListModelMixin": ("list",),
    "CreateModelMixin": ("create",),
    "RetrieveModelMixin": ("retrieve",),
    "UpdateModelMixin": ("update", "partial_update"),
    "DestroyModelMixin": ("destroy",),
}


@dataclass(frozen=True)
class RouterShape:
    """What one router's class and constructor say about the URLs it builds."""

    templates: tuple[RouteTemplate, ...]
    trailing_slash: str
    root_view: bool
    format_suffixes: bool
    parent_regex: str  # drf-nested-routers: "parent/<parent_lookup>/" before every URL
    lookup_prefix: str  # drf-extensions: "parent_lookup_" before each parents_query_lookups name


class DrfRouters:
    def __init__(self, builder: RouteBuilder) -> None:
        self.builder = builder
        self.index = builder.index
        self.defs: dict[str, RouterDef] = {}
        for facts in self.index.files:
            for router_def in facts.router_defs:
                self.defs[router_def.router] = router_def

    def is_router(self, qualname: str) -> bool:
        return qualname in self.builder.routers or qualname in self.defs

    def expand(self, router: str, scope: Scope, file: str) -> None:
        """Every route of `router`, included under `scope`."""
        shape = self.shape(router)
        registrations = self.builder.routers.get(router, [])
        suffix = scope.format_suffix or shape.format_suffixes
        if shape.root_view and not shape.parent_regex:
            line = min((r.line for r, _ in registrations), default=1)
            self.builder.add(
                scope.prefix, "rest_framework.routers.APIRootView", scope.qualify("api-root"),
                ("GET",), file, line,
                app_module=router.rpartition(".")[0], format_suffix=suffix,
                conditional=scope.condition,
            )  # fmt: skip
        for registration, reg_file in registrations:
            condition = self.builder.condition(scope.condition, registration.condition)
            if condition is False:
                continue
            for route in self._routes(registration, shape):
                pattern, viewset, name, mapping = route
                self.builder.add(
                    self.builder.join(scope.prefix, pattern), viewset,
                    scope.qualify(name), tuple(m for m, _ in mapping), reg_file,
                    registration.line, actions=mapping, format_suffix=suffix,
                    conditional=condition or None,
                )  # fmt: skip

    def shape(self, router: str, depth: int = 0) -> RouterShape:
        router_def = self.defs.get(router)
        kind = self.builder.router_kinds.get(router) or (router_def.cls[2:] if router_def else "")
        chain = list(self.builder.class_chain(self.index.resolve(kind))) if kind else []
        templates = next((c.route_templates for _, c in chain if c and c.route_templates), ())
        default = any(name.endswith("DefaultRouter") for name, _ in chain)
        slash = _attribute(chain, "trailing_slash")
        parent_regex = ""
        parent_shape = None
        if router_def is not None and router_def.parent is not None and depth < 8:
            parent = self.index.resolve(router_def.parent[2:])
            parent_shape = self.shape(parent, depth + 1)
            parent_regex = self._parent_regex(parent, parent_shape, router_def)
        if slash is None and router_def is not None and router_def.trailing_slash is not None:
            slash = "/" if router_def.trailing_slash else ""
        if slash is None:
            slash = parent_shape.trailing_slash if parent_shape else "/"
        in_tree = bool(chain) and all(c is not None for _, c in chain)
        return RouterShape(
            templates=templates or DEFAULT_TEMPLATES,
            trailing_slash=slash,
            root_view=default and _flag(chain, "include_root_view", True),
            format_suffixes=default and _flag(chain, "include_format_suffixes", True),
            parent_regex=parent_regex,
            lookup_prefix="" if in_tree else "parent_lookup_",
        )

    def _parent_regex(self, parent: str, parent_shape: RouterShape, router_def: RouterDef) -> str:
        """drf-nested-routers: ``{parent_prefix}/{lookup}_{parent lookup kwarg}/``."""
        prefix = router_def.parent_prefix or ""
        viewset = next(
            (self.index.resolve(r.viewset[2:]) for r, _ in self.builder.routers.get(parent, [])
             if r.prefix == prefix), None,
        )  # fmt: skip
        kwarg = self.lookup_kwarg(viewset) if viewset else "pk"
        nest = f"{router_def.lookup or 'nested_1'}_"
        regex = f"{prefix}/<{nest}{kwarg}>/"
        if not prefix:
            regex = regex.removeprefix("/")
        return parent_shape.parent_regex + regex

    def lookup_kwarg(self, viewset: str) -> str:
        return self.builder.class_attribute(viewset, ("lookup_url_kwarg", "lookup_field")) or "pk"

    def _routes(
        self, registration: RouterRegistration, shape: RouterShape
    ) -> Iterator[tuple[str, str, str | None, tuple[tuple[str, str], ...]]]:
        """(pattern, viewset, name, ((method, action), ...)) in the order DRF lists them."""
        viewset = self.index.resolve(registration.viewset[2:])
        actions, extra = self.viewset_actions(viewset)
        prefix = registration.prefix.removeprefix("^")
        if registration.parents:
            parents = "/".join(
                f"{p}/<{shape.lookup_prefix}{lookup}>" for p, lookup in registration.parents
            )
            prefix = f"{parents}/{prefix}"
        lookup = f"<{self.lookup_kwarg(viewset)}>"
        basename = registration.basename
        for template in shape.templates:
            detail = template.detail if template.detail is not None else "{lookup}" in template.url
            if template.dynamic:
                for action in sorted(extra, key=lambda a: a.name):
                    if action.detail != detail:
                        continue
                    url = _fill(template.url, url_path=_groups_as_names(action.url_path), methodname=action.name,
                                methodnamehyphen=action.name.replace("_", "-"))  # fmt: skip
                    name = _fill(template.name, url_name=action.name.replace("_", "-"),
                                 methodname=action.name, methodnamehyphen=action.name.replace("_", "-"))  # fmt: skip
                    mapping = (*((m.upper(), action.name) for m in action.methods), *action.extra)
                    yield (
                        self._pattern(url, prefix, lookup, shape),
                        viewset,
                        _name(name, basename),
                        mapping,
                    )
                continue
            mapping = tuple((m, a) for m, a in template.mapping if a in actions)
            if mapping:
                pattern = self._pattern(template.url, prefix, lookup, shape)
                yield pattern, viewset, _name(template.name, basename), mapping

    @staticmethod
    def _pattern(url: str, prefix: str, lookup: str, shape: RouterShape) -> str:
        regex = _fill(url, prefix=prefix, lookup=lookup, trailing_slash=shape.trailing_slash)
        if not prefix and regex[:2] == "^/":
            regex = "^" + regex[2:]
        if shape.parent_regex:
            regex = regex.replace("^", "^" + shape.parent_regex, 1)
        return regex

    def viewset_actions(self, qualname: str) -> tuple[set[str], list[ViewAction]]:
        """The standard actions a viewset has (its own or inherited) and its @action methods."""
        actions: set[str] = set()
        extra: list[ViewAction] = []
        for current, cls in self.builder.class_chain(qualname):
            if cls is None:
                actions.update(VIEWSET_ACTIONS.get(current.rsplit(".", 1)[-1], ()))
                continue
            actions.update(cls.methods)  # DRF binds an action where hasattr(viewset, action)
            extra.extend(a for a in cls.actions if a.name not in {e.name for e in extra})
        return actions, extra


_SIMPLE_GROUP = re.compile(r"\(\?P<(\w+)>[^()]*\)")


def _groups_as_names(url_path: str) -> str:
    r"""An @action's ``url_path=r"versions/(?P<version_id>\d+)"`` with its named groups
    written ``<version_id>``, like the lookup, so the route stays a path a proxy matches
    exactly."""
    return _SIMPLE_GROUP.sub(lambda m: f"<{m.group(1)}>", url_path)


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _name(template: str, basename: str | None) -> str | None:
    return template.replace("{basename}", basename) if basename else None


def _attribute(chain: list[tuple[str, ClassDef | None]], name: str) -> str | None:
    for _, cls in chain:
        if cls is not None and name in cls.attributes:
            return cls.attributes[name]
    return None


def _flag(chain: list[tuple[str, ClassDef | None]], name: str, default: bool) -> bool:
    for _, cls in chain:
        if cls is not None and name in cls.flags:
            return cls.flags[name]
    return default
