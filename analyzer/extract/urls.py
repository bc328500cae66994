"""URL configuration: pattern lists, includes with namespaces, format suffixes, lists extended
from elsewhere (``urls.urlpatterns += [...]`` in ``AppConfig.ready()``), and the ``if`` each
piece is added under. DRF routers are read by analyzer/extract/routers.py."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from analyzer.extract.conditions import Conditions, UnderConditions
from analyzer.extract.context import Context, dotted, string_value
from analyzer.extract.routers import router_instance
from analyzer.extract.url_text import keyword_is_false, static_files, static_text
from analyzer.extract.view_registry import registered_view
from analyzer.facts import UrlEntry, UrlList

_PATH_FUNCS = {"path": "path", "re_path": "re_path", "url": "re_path"}


class Urls(UnderConditions):
    """Reads module-level pattern lists; the linker stitches them into full routes."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._synthetic = 0
        # Lists are read when their statement starts, before the walk reaches each path()
        # call; entries get their own lines when the statement ends.
        self._entry_calls: dict[int, int] = {}  # id(entry) -> id(call)
        self._call_lines: dict[int, int] = {}  # id(call) -> line
        self._lists_before = 0
        self.conditions = Conditions()
        self._module_names: dict[str, str] = {}  # local name -> module it holds (import_module)
        self._suffixed: set[str] = set()  # router refs passed through format_suffix_patterns

    def _start(self) -> None:
        self._lists_before = len(self.ctx.facts.url_lists)

    def _finish(self) -> None:
        lists = self.ctx.facts.url_lists
        for index in range(self._lists_before, len(lists)):
            url_list = lists[index]
            entries = tuple(
                replace(e, line=self._call_lines.get(self._entry_calls.get(id(e), 0), e.line))
                for e in url_list.entries
            )
            lists[index] = replace(url_list, entries=entries)
        self._entry_calls.clear()
        self._call_lines.clear()
        self._lists_before = len(lists)

    def leave_Assign(self, node: cst.Assign) -> None:
        if self._entry_calls:
            self._finish()

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        if self._entry_calls:
            self._finish()

    def leave_Expr(self, node: cst.Expr) -> None:
        if self._entry_calls:
            self._finish()

    def visit_Assign(self, node: cst.Assign) -> None:
        self._start()
        module = self._imported_module(node.value)
        if module is not None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self._module_names[target.target.value] = module
        if not self.ctx.at_module_level:
            return
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self._list(target.target.value, node.value, extend=False)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._start()
        own = self._foreign_list(node.target) is None
        if self.ctx.at_module_level and isinstance(node.target, cst.Name) and own:
            self._list(node.target.value, node.value, extend=True)
            return
        owner = self._foreign_list(node.target)
        if owner is not None:
            self._list(owner[1], node.value, extend=True, owner=owner[0])

    def _imported_module(self, value: cst.BaseExpression) -> str | None:
        """``import_module("pkg.urls")`` or ``import_module(settings.ROOT_URLCONF)``."""
        if not isinstance(value, cst.Call) or not value.args:
            return None
        func = self.ctx.qualname(value.func) or dotted(value.func) or ""
        if not func.endswith("import_module"):
            return None
        arg = value.args[0].value
        text = string_value(arg)
        if text is not None:
            return text
        name = self.ctx.qualname(arg) or dotted(arg) or ""
        return "<root>" if name.endswith("settings.ROOT_URLCONF") else None

    def _foreign_list(self, node: cst.BaseExpression) -> tuple[str, str] | None:
        """(module, list name) for ``urls.urlpatterns`` where ``urls`` is an imported module,
        or ``urlpatterns`` imported from another module (``from proj.urls import urlpatterns``)."""
        if isinstance(node, cst.Name):
            name = self.ctx.qualname(node) or ""
            module, _, attr = name.rpartition(".")
            own = module == self.ctx.module or not module
            return None if own or attr != "urlpatterns" else (module, "urlpatterns")
        if not isinstance(node, cst.Attribute) or node.attr.value != "urlpatterns":
            return None
        base = node.value
        if isinstance(base, cst.Name) and base.value in self._module_names:
            return self._module_names[base.value], "urlpatterns"
        imported = self.ctx.qualname(base)
        if imported is None or imported == self.ctx.module:
            return None
        return imported, "urlpatterns"

    def visit_Call(self, node: cst.Call) -> None:
        # urlpatterns.append(path(...)) / urlpatterns.extend([...])
        if self._entry_calls:
            self._call_lines[id(node)] = self.ctx.line
            return
        func = node.func
        registration = registered_view(self.ctx, node, self.conditions)
        if registration is not None:
            self.ctx.facts.view_registrations.append(registration)
            return
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("append", "extend"):
            return
        if not node.args:
            return
        owner = None
        foreign = self._foreign_list(func.value)
        if foreign is not None:
            owner, name = foreign
        elif isinstance(func.value, cst.Name) and self.ctx.at_module_level:
            name = func.value.value
        else:
            return
        self._start()
        value = node.args[0].value
        if func.attr.value == "append":
            value = cst.List([cst.Element(value)])
        self._list(name, value, extend=True, owner=owner)

    def _list(
        self, name: str, value: cst.BaseExpression, extend: bool, owner: str | None = None
    ) -> None:
        parsed = self._patterns(value)
        if parsed is None:
            return
        entries, routers, app_name = parsed
        if not entries and not routers:
            return
        self.ctx.facts.url_lists.append(
            UrlList(
                name, tuple(entries), app_name, tuple(routers), owner, self.conditions.current,
                format_suffix=bool(routers) and all(r in self._suffixed for r in routers),
            )
        )  # fmt: skip

    def _patterns(self, value: cst.BaseExpression):
        """(entries, router refs, app_name) for an expression that builds a pattern list."""
        app_name = None
        if isinstance(value, cst.Tuple) and len(value.elements) == 2:
            app_name = string_value(value.elements[1].value)
            value = value.elements[0].value
        entries: list[UrlEntry] = []
        routers: list[str] = []
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
            left = self._patterns(value.left)
            right = self._patterns(value.right)
            for part in (left, right):
                if part is not None:
                    entries.extend(part[0])
                    routers.extend(part[1])
            return (entries, routers, app_name) if left or right else None
        if isinstance(value, cst.IfExp):  # [path(...)] if settings.DEBUG else []
            sides = []
            for side, negated in ((value.body, False), (value.orelse, True)):
                self.conditions.push(value, negated)
                sides.append(self._patterns(side))
                self.conditions.pop()
            parts = [p for p in sides if p is not None]
            if not parts:
                return None
            return [e for p in parts for e in p[0]], [r for p in parts for r in p[1]], app_name
        if isinstance(value, cst.Call):
            func = self.ctx.qualname(value.func) or dotted(value.func) or ""
            if func == "django.conf.urls.static.static":
                entry = self._static_files(value)
                return ([entry] if entry else []), [], app_name
            if func.endswith("format_suffix_patterns") and value.args:
                return self._format_suffixes(value.args[0].value)
            if func.endswith("i18n_patterns"):
                elements = [a.value for a in value.args if a.keyword is None]
                parsed = self._elements(elements, app_name)
                if parsed is None or keyword_is_false(value, "prefix_default_language"):
                    return parsed
                marked = [self._moved(e, replace(e, language_prefix=True)) for e in parsed[0]]
                return marked, parsed[1], parsed[2]
            return None
        if isinstance(value, cst.Attribute) and value.attr.value == "urls":
            owner = self._urls_owner(value.value)
            if owner is not None:
                return [], [f"q:{owner}"], app_name
            return None
        if isinstance(value, cst.List | cst.Tuple):
            elements = []
            for element in value.elements:
                if isinstance(element, cst.StarredElement):
                    star = element.value
                    if isinstance(star, cst.Attribute) and star.attr.value == "urls":
                        owner = self._urls_owner(star.value)
                        if owner is not None:
                            routers.append(f"q:{owner}")
                    continue
                elements.append(element.value)
            result = self._elements(elements, app_name)
            if result is None:
                return (entries, routers, app_name) if routers else None
            return result[0], routers + result[1], app_name
        return None

    def _format_suffixes(self, value: cst.BaseExpression):
        """``format_suffix_patterns(patterns)``: each pattern also answers with ``.json`` and
        the like; marked on the route rather than listed twice."""
        if isinstance(value, cst.Name):  # urlpatterns = format_suffix_patterns(urlpatterns)
            lists = self.ctx.facts.url_lists
            for index, url_list in enumerate(lists):
                if url_list.name == value.value and url_list.owner is None:
                    lists[index] = replace(
                        url_list,
                        entries=tuple(replace(e, format_suffix=True) for e in url_list.entries),
                        format_suffix=True,
                    )
            return None
        parsed = self._patterns(value)
        if parsed is None:
            return None
        entries, routers, app_name = parsed
        marked = [self._moved(e, replace(e, format_suffix=True)) for e in entries]
        self._suffixed.update(routers)
        return marked, routers, app_name

    def _static_files(self, call: cst.Call) -> UrlEntry | None:
        entry = static_files(self.ctx, call, self.conditions.current)
        if entry is not None:
            self._entry_calls[id(entry)] = id(call)
        return entry

    def _urls_owner(self, node: cst.BaseExpression) -> str | None:
        """What `node.urls` belongs to: a qualified name, or a router held by a module-level
        name whose class does not end in "Router"."""
        instance = router_instance(self.ctx, node)
        return instance[0] if instance is not None else self.ctx.qualname(node)

    def _moved(self, old: UrlEntry, new: UrlEntry) -> UrlEntry:
        """`new` replaces `old`: it keeps the line its call is on."""
        if id(old) in self._entry_calls:
            self._entry_calls[id(new)] = self._entry_calls.pop(id(old))
        return new

    def _elements(self, elements: list[cst.BaseExpression], app_name: str | None):
        entries: list[UrlEntry] = []
        seen_any = False
        for element in elements:
            if not isinstance(element, cst.Call):
                continue
            func = self.ctx.qualname(element.func) or dotted(element.func) or ""
            kind = _PATH_FUNCS.get(func.rsplit(".", 1)[-1])
            if kind is None:
                continue
            seen_any = True
            entry = self._entry(kind, element)
            if entry is not None:
                entries.append(entry)
        return (entries, [], app_name) if seen_any else None

    def _entry(self, kind: str, call: cst.Call) -> UrlEntry | None:
        ctx = self.ctx
        positional = [a.value for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        pattern_node = positional[0] if positional else keywords.get("route")
        if pattern_node is None:
            return None
        if isinstance(pattern_node, cst.Call) and pattern_node.args:  # _("path/")
            pattern_node = pattern_node.args[0].value
        pattern = static_text(ctx, pattern_node)
        if pattern is None:
            pattern = "<dynamic>"
        view_node = positional[1] if len(positional) > 1 else keywords.get("view")
        name_node = keywords.get("name") or (positional[3] if len(positional) > 3 else None)
        name = string_value(name_node) if name_node is not None else None
        line = ctx.line
        if view_node is None:
            return None
        view = include = namespace = app_name = None
        if isinstance(view_node, cst.Call):
            func = ctx.qualname(view_node.func) or dotted(view_node.func) or ""
            last = func.rsplit(".", 1)[-1]
            if last == "include":
                include, namespace, app_name = self._include(view_node)
            elif last in ("as_view", "as_asgi") and isinstance(view_node.func, cst.Attribute):
                owner = ctx.resolve(view_node.func.value)
                view = owner if owner and owner.startswith("q:") else None
            else:
                inner = ctx.resolve(view_node.func)  # decorated view: login_required(view)
                if view_node.args:
                    arg = view_node.args[0].value
                    if (  # csrf_exempt(GraphQLView.as_view(...)): the class
                        isinstance(arg, cst.Call) and isinstance(arg.func, cst.Attribute)
                        and arg.func.attr.value in ("as_view", "as_asgi")
                    ):  # fmt: skip
                        arg = arg.func.value
                    wrapped = ctx.resolve(arg)
                    view = wrapped if wrapped and wrapped.startswith("q:") else inner
        elif isinstance(view_node, cst.Attribute) and view_node.attr.value == "urls":
            owner = self._urls_owner(view_node.value)
            include = f"q:{owner}" if owner else None  # admin.site.urls, ninja api.urls
        elif isinstance(view_node, cst.Tuple | cst.List):
            nested = self._patterns(view_node)
            if nested is not None:
                include = self._synthetic_list(nested)
        else:
            ref = ctx.resolve(view_node)
            view = ref if ref and ref.startswith("q:") else None
        entry = UrlEntry(
            kind, pattern, line, view, include, namespace, app_name, name,
            condition=self.conditions.current,
        )  # fmt: skip
        self._entry_calls[id(entry)] = id(call)
        return entry

    def _include(self, call: cst.Call) -> tuple[str | None, str | None, str | None]:
        ctx = self.ctx
        positional = [a.value for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        namespace_node = keywords.get("namespace") or (
            positional[1] if len(positional) > 1 else None
        )
        namespace = string_value(namespace_node) if namespace_node is not None else None
        if not positional:
            return None, namespace, None
        target = positional[0]
        app_name = None
        if isinstance(target, cst.Tuple) and len(target.elements) == 2:
            app_name = string_value(target.elements[1].value)
            target = target.elements[0].value
        text = string_value(target)
        if text is not None:
            return f"m:{text}", namespace, app_name
        if isinstance(target, cst.Call) and (dotted(target.func) or "").endswith("get_model_urls"):
            values = [string_value(a.value) for a in target.args if a.keyword is None]
            detail = all(
                not (a.keyword and a.keyword.value == "detail" and isinstance(a.value, cst.Name)
                     and a.value.value == "False") for a in target.args
            )  # fmt: skip
            if len(values) >= 2 and values[0] and values[1]:
                return (
                    f"v:{values[0]}.{values[1]}:{'detail' if detail else 'list'}",
                    namespace,
                    app_name,
                )
        if isinstance(target, cst.List | cst.Tuple):
            nested = self._patterns(target)
            return (self._synthetic_list(nested) if nested else None), namespace, app_name
        if isinstance(target, cst.Attribute) and target.attr.value in ("urls", "urlpatterns"):
            owner = ctx.resolve(target.value)
            instance = router_instance(ctx, target.value)
            if instance is not None and target.attr.value == "urls":
                return f"q:{instance[0]}.urls", namespace, app_name
            if owner and owner.startswith("q:"):
                suffix = "" if target.attr.value == "urlpatterns" else ".urls"
                if target.attr.value == "urlpatterns":
                    return f"m:{owner[2:]}", namespace, app_name
                return f"{owner}{suffix}", namespace, app_name
        ref = ctx.resolve(target)
        if ref and ref.startswith("q:"):
            return ref, namespace, app_name
        return None, namespace, app_name

    def _synthetic_list(self, parsed) -> str:
        entries, routers, app_name = parsed
        self._synthetic += 1
        name = f"<inline {self._synthetic}>"
        self.ctx.facts.url_lists.append(UrlList(name, tuple(entries), app_name, tuple(routers)))
        return f"q:{self.ctx.module}.{name}"
