"""Routes: the root urlconf expanded through includes, namespaces and DRF routers into full
patterns, each mapped to its view and the app that owns the view."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from analyzer.facts import UrlEntry, UrlList, Warning_
from analyzer.link.apps import AppLocator
from analyzer.link.index import CodeIndex


@dataclass(frozen=True)
class Route:
    pattern: str
    view: str | None
    app: str | None
    name: str | None
    methods: tuple[str, ...] | None
    file: str
    line: int

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "pattern": self.pattern, "view": self.view, "app": self.app, "name": self.name,
            "evidence": {"file": self.file, "line": self.line},
        }  # fmt: skip
        if self.methods:
            out["methods"] = list(self.methods)
        return out


_VIEWSET_ACTIONS = {
    "ModelViewSet": ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    "ReadOnlyModelViewSet": ("list", "retrieve"),
    "ListModelMixin": ("list",),
    "CreateModelMixin": ("create",),
    "RetrieveModelMixin": ("retrieve",),
    "UpdateModelMixin": ("update", "partial_update"),
    "DestroyModelMixin": ("destroy",),
}
_ACTION_METHODS = {
    "list": ("GET", False), "create": ("POST", False), "retrieve": ("GET", True),
    "update": ("PUT", True), "partial_update": ("PATCH", True), "destroy": ("DELETE", True),
}  # fmt: skip
_HTTP_HANDLERS = ("get", "post", "put", "patch", "delete")
_GENERIC_VIEW_METHODS = {
    "TemplateView": ("GET",),
    "ListView": ("GET",),
    "DetailView": ("GET",),
    "RedirectView": ("GET",),
    "ArchiveIndexView": ("GET",),
    "CreateView": ("GET", "POST"),
    "UpdateView": ("GET", "POST"),
    "DeleteView": ("GET", "POST"),
    "FormView": ("GET", "POST"),
    "LoginView": ("GET", "POST"),
    "LogoutView": ("POST",),
    "ListAPIView": ("GET",),
    "RetrieveAPIView": ("GET",),
    "CreateAPIView": ("POST",),
    "DestroyAPIView": ("DELETE",),
    "UpdateAPIView": ("PUT", "PATCH"),
    "ListCreateAPIView": ("GET", "POST"),
    "RetrieveUpdateAPIView": ("GET", "PUT", "PATCH"),
    "RetrieveDestroyAPIView": ("GET", "DELETE"),
    "RetrieveUpdateDestroyAPIView": ("GET", "PUT", "PATCH", "DELETE"),
}
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def join_pattern(prefix: str, pattern: str) -> str:
    """Concatenate urlconf pieces the way Django matches them, without regex anchors."""
    piece = pattern.removeprefix("^")
    piece = piece.removesuffix("\\Z").removesuffix("$")
    return prefix + piece


_NINJA_PARAM = re.compile(r"\{(?:(\w+):)?(\w+)\}")


def ninja_path(path: str) -> str:
    """A django-ninja path as a Django pattern: "/items/{int:item_id}" -> "items/<int:item_id>"."""
    text = _NINJA_PARAM.sub(
        lambda m: f"<{m.group(1)}:{m.group(2)}>" if m.group(1) else f"<{m.group(2)}>", path
    )
    return text.lstrip("/")


def normalise_pattern(pattern: str) -> str:
    """A form to compare patterns by: named groups and converters both become ``<name>``."""
    text = _REGEX_GROUP.sub(lambda m: f"<{m.group(1)}>", pattern)
    text = _CONVERTER.sub(lambda m: f"<{m.group(1)}>", text)
    return text.replace("\\.", ".").replace("^", "").replace("$", "")


class RouteBuilder:
    def __init__(
        self, index: CodeIndex, locator: AppLocator, warnings: list[Warning_],
        model_label: Callable[[str], str | None] = lambda ref: None,
    ) -> None:  # fmt: skip
        self.index = index
        self.locator = locator
        self.warnings = warnings
        self.model_label = model_label  # resolves a model reference to its label
        self._view_registry: dict[tuple[str, bool], list] | None = None
        self.lists: dict[str, list[tuple[UrlList, str]]] = {}  # qualname -> pieces (with file)
        self.routers: dict[str, list] = {}
        self.router_kinds: dict[str, str] = {}
        self.ninja_operations: dict[str, list] = {}  # NinjaAPI/Router qualname -> operations
        self.ninja_mounts: dict[str, list] = {}
        for facts in index.files:
            for url_list in facts.url_lists:
                key = f"{facts.module}.{url_list.name}"
                self.lists.setdefault(key, []).append((url_list, facts.path))
            for operation in facts.ninja_operations:
                self.ninja_operations.setdefault(operation.owner, []).append(
                    (operation, facts.path)
                )
            for mount in facts.ninja_mounts:
                self.ninja_mounts.setdefault(mount.api, []).append((mount, facts.path))
            for registration in facts.routers:
                self.routers.setdefault(registration.router, []).append((registration, facts.path))
            self.router_kinds.update(facts.router_vars)
        self.routes: list[Route] = []

    def build(self, root_urlconf: str | None) -> list[Route]:
        roots: list[str] = []
        if root_urlconf and f"{root_urlconf}.urlpatterns" in self.lists:
            roots = [root_urlconf]
        else:
            if root_urlconf:
                self.warnings.append(Warning_("", f"root urlconf {root_urlconf} has no urlpatterns "
                                              "in the analysed files; every urls module not "
                                              "included by another is read as a root instead"))  # fmt: skip
            included = {
                e.include[2:] for pieces in self.lists.values() for url_list, _ in pieces
                for e in url_list.entries if e.include and e.include.startswith("m:")
            }  # fmt: skip
            roots = sorted(
                key.rpartition(".")[0] for key in self.lists
                if key.endswith(".urlpatterns") and key.rpartition(".")[0] not in included
            )  # fmt: skip
        for module in roots:
            self._expand_module(module, "", None, ())
        return self.routes

    def _expand_module(self, module: str, prefix: str, namespace: str | None, stack: tuple) -> None:
        self._expand_list(f"{module}.urlpatterns", prefix, namespace, stack)

    def _expand_list(self, key: str, prefix: str, namespace: str | None, stack: tuple) -> None:
        if key in stack or len(stack) > 20:
            return
        stack = (*stack, key)
        for url_list, file in self.lists.get(key, []):
            for entry in url_list.entries:
                self._entry(entry, file, prefix, namespace, stack)
            for router in url_list.routers:
                self._router(router[2:], prefix, namespace, file)

    def _entry(
        self, entry: UrlEntry, file: str, prefix: str, namespace: str | None, stack: tuple
    ) -> None:
        full = join_pattern(prefix, entry.pattern)
        if entry.include is not None:
            self._include(entry, file, full, namespace, stack)
            return
        if entry.view is None:
            return
        view = self.index.resolve(entry.view[2:])
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
        self._add(full, view, name, self._methods(view), file, entry.line)

    def _include(
        self, entry: UrlEntry, file: str, full: str, namespace: str | None, stack: tuple
    ) -> None:
        target = entry.include or ""
        kind, _, name = target.partition(":")
        if kind == "v":
            self._registered_views(name, full, namespace)
            return
        if kind == "m":
            module_facts = self.index.modules.get(name)
            if module_facts is None:
                if not name.startswith(("django.", "rest_framework", "debug_toolbar")):
                    self.warnings.append(Warning_(file, f"include('{name}') names a module outside "
                                                  "the analysed files; its routes are left out", entry.line))  # fmt: skip
                return
            inner = entry.namespace or entry.app_name or module_facts.app_name
            self._expand_module(name, full, _nest(namespace, inner), stack)
            return
        qualname = self.index.resolve(name)
        if qualname in self.index.modules:  # include(urls_module) with the module imported
            inner = entry.namespace or entry.app_name or self.index.modules[qualname].app_name
            self._expand_module(qualname, full, _nest(namespace, inner), stack)
            return
        base = qualname.removesuffix(".urls")
        if self._is_ninja(base):
            # NinjaAPI's own routes (its defaults: the API root, the OpenAPI schema, the docs)
            module = base.rpartition(".")[0]
            for route, view in (("", "ninja.main.default_home"), ("openapi.json", "ninja.openapi.views.openapi_json"),
                                ("docs", "ninja.openapi.views.openapi_view")):  # fmt: skip
                self._add(
                    join_pattern(full, route),
                    view,
                    None,
                    ("GET",),
                    file,
                    entry.line,
                    app_module=module,
                )
            self._ninja(base, full, file, set())
            return
        if base in self.routers or base in self.router_kinds:
            self._router(base, full, namespace, file)
            return
        if qualname in self.lists:
            lists = self.lists[qualname]
            inner = entry.namespace or entry.app_name or lists[0][0].app_name
            self._expand_list(qualname, full, _nest(namespace, inner), stack)
            return
        module = self.index.module_of(qualname)
        if module is not None and qualname.endswith(".urlpatterns"):
            self._expand_module(module, full, namespace, stack)
            return
        if not qualname.startswith("django."):
            self.warnings.append(Warning_(file, f"include of {qualname} cannot be followed "
                                          "statically; its routes are left out", entry.line))  # fmt: skip

    def _is_ninja(self, qualname: str) -> bool:
        kind = self.index.resolve(self.router_kinds.get(qualname, "")) or self.router_kinds.get(
            qualname, ""
        )
        return kind.startswith("ninja.") or kind.endswith("NinjaAPI")

    def _ninja(self, owner: str, prefix: str, file: str, seen: set[str], mounted: str = "") -> None:
        """A django-ninja API's operations, and those of the routers it mounts, under `prefix`.

        `mounted` is the ninja-side prefix so far; ninja joins the pieces with "/" and then
        collapses doubled slashes, and so does this."""
        if owner in seen:
            return
        seen.add(owner)
        for operation, op_file in self.ninja_operations.get(owner, []):
            route = ninja_path(
                re.sub("/+", "/", "/".join(p for p in (mounted, operation.path) if p))
            )
            self._add(
                join_pattern(prefix, route),
                operation.view,
                None,
                operation.methods,
                op_file,
                operation.line,
            )
        for mount, mount_file in self.ninja_mounts.get(owner, []):
            kind, _, name = mount.router.partition(":")
            router = self.index.resolve(name) if kind == "q" else name
            if router not in self.ninja_operations and router not in self.ninja_mounts:
                self.warnings.append(Warning_(mount_file, f"add_router of {name} cannot be followed "
                                              "statically; its routes are left out", mount.line))  # fmt: skip
                continue
            self._ninja(
                router, prefix, mount_file, seen, "/".join(p for p in (mounted, mount.prefix) if p)
            )

    def _registered_views(self, spec: str, prefix: str, namespace: str | None) -> None:
        """Routes of ``get_model_urls("app", "model", detail=...)``: the views registered for
        that model with ``@register_model_view``, as netbox builds them."""
        if self._view_registry is None:
            self._view_registry = {}
            for facts in self.index.files:
                for registration in facts.view_registrations:
                    label = self.model_label(registration.model)
                    if label is not None:
                        key = (label.lower(), registration.detail)
                        self._view_registry.setdefault(key, []).append((registration, facts.path))
        label, _, kind = spec.rpartition(":")
        model_name = label.rpartition(".")[2]
        for registration, file in self._view_registry.get((label.lower(), kind == "detail"), []):
            pattern = f"{prefix}{registration.path}/" if registration.path else prefix
            name = f"{model_name}_{registration.name}" if registration.name else model_name
            self._add(pattern, registration.view, _qualify(namespace, name), self._methods(registration.view),
                      file, registration.line)  # fmt: skip

    def _is_default_router(self, qualname: str) -> bool:
        return any(name.endswith("DefaultRouter") for name, _ in self._class_chain(qualname))

    def _router(self, router: str, prefix: str, namespace: str | None, file: str) -> None:
        router_class = self.index.resolve(self.router_kinds.get(router, ""))
        if router_class and self._is_default_router(router_class):
            line = min((r.line for r, _ in self.routers.get(router, [])), default=1)
            self._add(prefix, "rest_framework.routers.APIRootView", _qualify(namespace, "api-root"),
                      ("GET",), file, line, app_module=router.rpartition(".")[0])  # fmt: skip
        for registration, reg_file in self.routers.get(router, []):
            viewset = self.index.resolve(registration.viewset[2:])
            actions, extra = self._viewset_actions(viewset)
            lookup = self._class_attribute(viewset, ("lookup_url_kwarg", "lookup_field")) or "pk"
            base = (
                join_pattern(prefix, registration.prefix.strip("^$/") + "/")
                if registration.prefix.strip("^$/")
                else prefix
            )
            basename = registration.basename
            for action in actions:
                method, detail = _ACTION_METHODS[action]
                pattern = f"{base}<{lookup}>/" if detail else base
                suffix = "detail" if detail else "list"
                name = f"{basename}-{suffix}" if basename else None
                self._add(
                    pattern,
                    f"{viewset}.{action}",
                    _qualify(namespace, name),
                    (method,),
                    reg_file,
                    registration.line,
                )
            for action in extra:
                pattern = (
                    f"{base}<{lookup}>/{action.url_path}/"
                    if action.detail
                    else f"{base}{action.url_path}/"
                )
                name = f"{basename}-{action.name.replace('_', '-')}" if basename else None
                self._add(pattern, f"{viewset}.{action.name}", _qualify(namespace, name),
                          tuple(m.upper() for m in action.methods), reg_file, registration.line)  # fmt: skip

    def _class_attribute(self, qualname: str, names: tuple[str, ...], depth: int = 0) -> str | None:
        """A string class attribute, looked up along the bases like Python does."""
        cls = self.index.classes.get(qualname)
        if cls is None or depth > 8:
            return None
        for name in names:
            if name in cls.attributes:
                return cls.attributes[name]
        for base in cls.bases:
            if base.startswith("q:"):
                found = self._class_attribute(self.index.resolve(base[2:]), names, depth + 1)
                if found is not None:
                    return found
        return None

    def _class_chain(self, qualname: str):
        """(qualified name, ClassDef or None) for a class and all its bases, each once; a
        base outside the tree comes with None (its name is all that is known)."""
        stack, seen = [qualname], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            cls = self.index.classes.get(current)
            yield current, cls
            if cls is not None:
                stack.extend(self.index.resolve(b[2:]) for b in cls.bases if b.startswith("q:"))

    def _viewset_actions(self, qualname: str) -> tuple[list[str], list]:
        actions: list[str] = []
        extra: list = []
        for current, cls in self._class_chain(qualname):
            if cls is None:
                actions.extend(_VIEWSET_ACTIONS.get(current.rsplit(".", 1)[-1], ()))
                continue
            actions.extend(m for m in cls.methods if m in _ACTION_METHODS)
            extra.extend(a for a in cls.actions if a.name not in {e.name for e in extra})
        ordered = [a for a in _ACTION_METHODS if a in actions]
        return ordered, extra

    def _methods(self, view: str) -> tuple[str, ...] | None:
        function = self.index.functions.get(view)
        if function is not None:
            return function.http_methods or None
        methods: list[str] = []
        for current, cls in self._class_chain(view):
            if cls is None:
                methods.extend(_GENERIC_VIEW_METHODS.get(current.rsplit(".", 1)[-1], ()))
            else:
                methods.extend(m.upper() for m in cls.methods if m in _HTTP_HANDLERS)
        return tuple(dict.fromkeys(methods)) or None

    def _add(
        self, pattern: str, view: str | None, name: str | None, methods, file: str, line: int,
        app_module: str | None = None,
    ) -> None:  # fmt: skip
        module = app_module or (self.index.module_of(view) if view else None)
        if module is None and view:
            module = view.rpartition(".")[0]
        app = self.locator.app_of(module) if module else None
        self.routes.append(
            Route(pattern, view, app.label if app else None, name, methods, file, line)
        )


def _nest(outer: str | None, inner: str | None) -> str | None:
    if outer and inner:
        return f"{outer}:{inner}"
    return inner or outer


def _qualify(namespace: str | None, name: str | None) -> str | None:
    return f"{namespace}:{name}" if namespace and name else name
