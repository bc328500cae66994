"""Routes: the root urlconf expanded through includes, namespaces and DRF routers into full
patterns, each mapped to its view and the app that owns the view.

One route per URL pattern, as Django's resolver sees it: a view's methods are merged into
one route, and a later pattern equal to an earlier one is dropped with a warning (Django never
reaches it). Patterns added under ``if`` are dropped where the condition is statically false
and kept with ``conditional`` where it is unknown; includes of packages outside the analysed
tree become one catch-all route of an external app."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from analyzer.facts import UrlEntry, UrlList, Warning_
from analyzer.link.apps import AppLocator
from analyzer.link.conditions import residual
from analyzer.link.drf_routes import DrfRouters
from analyzer.link.external_urls import add_external
from analyzer.link.index import CodeIndex
from analyzer.link.ninja_routes import NinjaRoutes
from analyzer.link.view_registry import ViewRegistry


@dataclass(frozen=True)
class Route:
    pattern: str  # Django's patterns joined as the resolver joins them, without ^ and $
    view: str | None  # the view function or class; a DRF viewset for its router's URLs
    app: str | None
    name: str | None
    methods: tuple[str, ...] | None  # None: any (not known statically)
    file: str
    line: int
    actions: tuple[tuple[str, str], ...] = ()  # (METHOD, viewset action) for router URLs
    format_suffix: bool = False  # also answers with a `.json`-style suffix
    conditional: str | None = None  # the urlconf `if` it depends on, when not known statically
    external: bool = False  # a package outside the analysed tree: a catch-all `prefix/*`

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "pattern": self.pattern, "view": self.view, "app": self.app, "name": self.name,
            "evidence": {"file": self.file, "line": self.line},
        }  # fmt: skip
        if self.methods:
            out["methods"] = list(self.methods)
        if self.actions:
            out["actions"] = dict(self.actions)
        if self.format_suffix:
            out["format_suffix"] = True
        if self.conditional:
            out["conditional"] = self.conditional
        if self.external:
            out["external"] = True
        return out


@dataclass(frozen=True)
class Scope:
    """Where a urlconf piece is included: the prefix so far, the namespace, the conditions
    it sits under, and whether format_suffix_patterns wrapped it."""

    prefix: str = ""
    namespace: str | None = None
    condition: str | None = None
    format_suffix: bool = False

    def qualify(self, name: str | None) -> str | None:
        return _qualify(self.namespace, name)


_HTTP_HANDLERS = ("get", "post", "put", "patch", "delete")
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
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


def normalise_pattern(pattern: str) -> str:
    """A form to compare patterns by: named groups and converters both become ``<name>``."""
    text = _REGEX_GROUP.sub(lambda m: f"<{m.group(1)}>", pattern)
    text = _CONVERTER.sub(lambda m: f"<{m.group(1)}>", text)
    return text.replace("\\.", ".").replace("^", "").replace("$", "")


class RouteBuilder:
    def __init__(
        self, index: CodeIndex, locator: AppLocator, warnings: list[Warning_],
        model_label: Callable[[str], str | None] = lambda ref: None,
        settings: Mapping[str, object] | None = None,
        model_classes: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.index = index
        self.locator = locator
        self.warnings = warnings
        self.settings = settings or {}  # setting values read statically, for `if` conditions
        self.lists: dict[str, list[tuple[UrlList, str]]] = {}  # qualname -> pieces (with file)
        self.routers: dict[str, list] = {}
        self.router_kinds: dict[str, str] = {}
        extensions: list[tuple[UrlList, str]] = []  # pieces added from other modules, last
        for facts in index.files:
            for url_list in facts.url_lists:
                if url_list.owner is not None:
                    extensions.append((url_list, facts.path))
                    continue
                key = f"{facts.module}.{url_list.name}"
                self.lists.setdefault(key, []).append((url_list, facts.path))
            for registration in facts.routers:
                self.routers.setdefault(registration.router, []).append((registration, facts.path))
            self.router_kinds.update(facts.router_vars)
        self._extensions = extensions
        self.drf = DrfRouters(self)
        self.ninja = NinjaRoutes(self)
        self.view_registry = ViewRegistry(self, model_label, model_classes or {})
        self.routes: list[Route] = []
        self._seen: dict[tuple[str, str | None], int] = {}  # (pattern, condition) -> index
        self._module_of_file: dict[str, str] | None = None  # file path -> module, on demand
        self._groups: dict[int, str] = {}  # route index -> what serves several views at once
        self._own_tops: set[str] | None = None

    join = staticmethod(join_pattern)

    def build(self, root_urlconf: str | None) -> list[Route]:
        for url_list, file in self._extensions:
            owner = root_urlconf if url_list.owner == "<root>" else url_list.owner
            if owner:
                key = f"{self.index.resolve(owner)}.{url_list.name}"
                self.lists.setdefault(key, []).append((url_list, file))
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
            self._expand_module(module, Scope(), ())
        return self.routes

    def condition(self, outer: str | None, inner: str | None) -> str | Literal[False] | None:
        """The condition in force under `outer` and `inner`: False when statically off,
        else the part not known statically (None: always on)."""
        if not inner:
            return outer
        left = residual(inner, self.settings)
        if left is False:
            return False
        if left is True:
            return outer
        return f"{outer} and {left}" if outer else left

    def _language(self) -> str:
        code = self.settings.get("LANGUAGE_CODE")
        return code if isinstance(code, str) and code else "en-us"  # Django's default

    def _expand_module(self, module: str, scope: Scope, stack: tuple) -> None:
        self._expand_list(f"{module}.urlpatterns", scope, stack)

    def _expand_list(self, key: str, scope: Scope, stack: tuple) -> None:
        if key in stack or len(stack) > 20:
            return
        stack = (*stack, key)
        for url_list, file in self.lists.get(key, []):
            for entry in url_list.entries:
                self._entry(entry, file, scope, stack)
            if url_list.routers:
                condition = self.condition(scope.condition, url_list.condition)
                if condition is False:
                    continue
                inner = replace(scope, condition=condition,
                                format_suffix=scope.format_suffix or url_list.format_suffix)  # fmt: skip
                for router in url_list.routers:
                    self.drf.expand(self.index.resolve(router[2:]), inner, file)

    def _entry(self, entry: UrlEntry, file: str, scope: Scope, stack: tuple) -> None:
        condition = self.condition(scope.condition, entry.condition)
        if condition is False:
            return
        full = join_pattern(scope.prefix, entry.pattern)
        if entry.language_prefix:  # i18n_patterns: Django's resolver shows the default language
            full = join_pattern(f"{scope.prefix}{self._language()}/", entry.pattern)
        inner = Scope(full, scope.namespace, condition,
                      scope.format_suffix or entry.format_suffix)  # fmt: skip
        if entry.include is not None:
            self._include(entry, file, inner, stack)
            return
        if entry.view is None:
            self.warnings.append(Warning_(file, f"the view or include at {full or '/'} is built at "
                                          "run time and cannot be followed statically; its routes "
                                          "are left out", entry.line))  # fmt: skip
            return
        view = self.index.resolve(entry.view[2:])
        self.add(full, view, scope.qualify(entry.name), self.methods(view), file, entry.line,
                 format_suffix=inner.format_suffix, conditional=condition)  # fmt: skip

    def _include(self, entry: UrlEntry, file: str, scope: Scope, stack: tuple) -> None:
        target = entry.include or ""
        kind, _, name = target.partition(":")
        if kind == "v":
            self.view_registry.expand(name, scope)
            return
        if kind == "m":
            module_facts = self.index.modules.get(name)
            if module_facts is None:
                if self._is_own_package(name):
                    self.warnings.append(Warning_(file, f"include('{name}') names a module outside "
                                                  "the analysed files; its routes are left out", entry.line))  # fmt: skip
                else:
                    add_external(self, name, file, entry.line, scope)
                return
            inner = entry.namespace or entry.app_name or module_facts.app_name
            self._expand_module(name, _nested(scope, inner), stack)
            return
        qualname = self.index.resolve(name)
        if qualname in self.index.modules:  # include(urls_module) with the module imported
            inner = entry.namespace or entry.app_name or self.index.modules[qualname].app_name
            self._expand_module(qualname, _nested(scope, inner), stack)
            return
        base = qualname.removesuffix(".urls")
        if self.ninja.is_api(base):
            self.ninja.expand(base, scope, file, entry.line)
            return
        if base in self.routers or base in self.router_kinds or self.drf.is_router(base):
            self.drf.expand(base, scope, file)
            return
        if qualname in self.lists:
            lists = self.lists[qualname]
            inner = entry.namespace or entry.app_name or lists[0][0].app_name
            self._expand_list(qualname, _nested(scope, inner), stack)
            return
        module = self.index.module_of(qualname)
        if module is not None and qualname.endswith(".urlpatterns"):
            self._expand_module(module, scope, stack)
            return
        if qualname.startswith("django."):  # admin.site.urls, include(django.conf.urls.i18n)
            owner = (
                "django.contrib.admin" if qualname.startswith("django.contrib.admin") else qualname
            )
            add_external(self, owner, file, entry.line, scope)
            return
        if module is None and not self._is_own_package(qualname):
            add_external(self, qualname, file, entry.line, scope)
            return
        self.warnings.append(Warning_(file, f"include of {qualname} cannot be followed "
                                      "statically; its routes are left out", entry.line))  # fmt: skip

    def _is_own_package(self, dotted: str) -> bool:
        """Whether `dotted` sits in a top-level package of the analysed files (a module of it
        that is left out is not a third-party one)."""
        if self._own_tops is None:
            self._own_tops = {m.split(".", 1)[0] for m in self.index.modules}
        return dotted.split(".", 1)[0] in self._own_tops

    def class_attribute(self, qualname: str, names: tuple[str, ...], depth: int = 0) -> str | None:
        """A string class attribute, looked up along the bases like Python does."""
        cls = self.index.classes.get(qualname)
        if cls is None or depth > 8:
            return None
        for name in names:
            if name in cls.attributes:
                return cls.attributes[name]
        for base in cls.bases:
            if base.startswith("q:"):
                found = self.class_attribute(self.index.resolve(base[2:]), names, depth + 1)
                if found is not None:
                    return found
        return None

    def class_chain(self, qualname: str):
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
                stack.extend(
                    self.index.resolve(b[2:]) for b in reversed(cls.bases) if b.startswith("q:")
                )

    def methods(self, view: str) -> tuple[str, ...] | None:
        function = self.index.functions.get(view)
        if function is not None:
            return function.http_methods or None
        methods: list[str] = []
        for current, cls in self.class_chain(view):
            if cls is None:
                methods.extend(_GENERIC_VIEW_METHODS.get(current.rsplit(".", 1)[-1], ()))
            else:
                methods.extend(m.upper() for m in cls.methods if m in _HTTP_HANDLERS)
        return tuple(dict.fromkeys(methods)) or None

    def _app_of_file(self, file: str):
        """The project's own app whose module is at `file`, if any."""
        if self._module_of_file is None:
            self._module_of_file = {f.path: f.module for f in self.index.files}
        module = self._module_of_file.get(file)
        found = self.locator.app_of(module) if module else None
        return found if found is not None and not found.external else None

    def add(
        self, pattern: str, view: str | None, name: str | None, methods, file: str, line: int,
        app_module: str | None = None, actions: tuple[tuple[str, str], ...] = (),
        format_suffix: bool = False, conditional: str | None = None, external: bool = False,
        app: str | None = None, group: str | None = None,
    ) -> None:  # fmt: skip
        """One route per pattern: the same view again adds its methods; another view at a
        pattern already taken is never reached by Django, so it is dropped with a warning."""
        if methods:  # only HTTP's own methods (a router's own mapping may name others)
            methods = tuple(m for m in methods if m in _METHOD_ORDER) or None
        actions = tuple(a for a in actions if a[0] in _METHOD_ORDER)
        key = (pattern, conditional)
        if key in self._seen:
            index = self._seen[key]
            first = self.routes[index]
            if first.view == view or (group is not None and self._groups.get(index) == group):
                merged = (
                    None if not first.methods or not methods else _union(first.methods, methods)
                )
                self.routes[index] = replace(
                    first, methods=merged, actions=(*first.actions, *actions)
                )
                return
            self.warnings.append(Warning_(file, f"route {pattern or '/'} ({view}) repeats the pattern "
                                          f"of {first.view} at {first.file}:{first.line}, which "
                                          "Django matches first; it is never reached and left out",
                                          line))  # fmt: skip
            return
        if app is None:
            module = app_module or (self.index.module_of(view) if view else None)
            if module is None and view:
                module = view.rpartition(".")[0]
            located = self.locator.app_of(module) if module else None
            if not external and (located is None or located.external):
                # A library's view mounted by the project (Django's password reset, a health
                # check): the app whose urlconf mounts it serves it.
                located = self._app_of_file(file) or located
            app = located.label if located else None
        self._seen[key] = len(self.routes)
        if group is not None:
            self._groups[len(self.routes)] = group
        self.routes.append(Route(pattern, view, app, name, tuple(methods) if methods else None,
                                 file, line, tuple(actions), format_suffix, conditional, external))  # fmt: skip


def _union(first: tuple[str, ...], second) -> tuple[str, ...]:
    both = set(first) | set(second)
    return tuple(sorted(both, key=lambda m: _METHOD_ORDER.index(m) if m in _METHOD_ORDER else 99))


def _nested(scope: Scope, inner: str | None) -> Scope:
    return replace(scope, namespace=_nest(scope.namespace, inner))


def _nest(outer: str | None, inner: str | None) -> str | None:
    if outer and inner:
        return f"{outer}:{inner}"
    return inner or outer


def _qualify(namespace: str | None, name: str | None) -> str | None:
    return f"{namespace}:{name}" if namespace and name else name
