"""DRF routers: how each router is built, and what is registered on it.

``router = DefaultRouter(trailing_slash=False)`` and drf-nested-routers'
``NestedSimpleRouter(parent, "prefix", lookup="x")`` become :class:`RouterDef` facts;
``router.register("prefix", ViewSet)`` becomes a :class:`RouterRegistration`, also when the
router is imported from another module, and so do drf-extensions' nested registrations
(``router.register(...).register(..., parents_query_lookups=[...])``, directly or through a
name bound to the first registration).
"""

from __future__ import annotations

import libcst as cst

from analyzer.extract.conditions import Conditions, UnderConditions
from analyzer.extract.context import Context, string_value
from analyzer.facts import RouterDef, RouterRegistration

# a registration item: (router qualname, prefixes of the registrations it is nested in)
_Item = tuple[str, tuple[str, ...]]


class Routers(UnderConditions):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.conditions = Conditions()
        self._items: dict[int, _Item | None] = {}  # id(register call) -> the item it returns
        self._named: dict[str, _Item] = {}  # module-level name bound to a registration item

    def visit_Assign(self, node: cst.Assign) -> None:
        ctx = self.ctx
        if not ctx.at_module_level or not isinstance(node.value, cst.Call):
            return
        func = ctx.qualname(node.value.func)
        keywords = {a.keyword.value for a in node.value.args if a.keyword is not None}
        if func is None or not (
            func.rsplit(".", 1)[-1].endswith("Router") or "trailing_slash" in keywords
        ):
            return
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self._router_def(f"{ctx.module}.{target.target.value}", func, node.value)

    def leave_Assign(self, node: cst.Assign) -> None:
        item = self._items.get(id(node.value))
        if item is not None and self.ctx.at_module_level:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self._named[target.target.value] = item

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "register":
            self._register(node)

    def _router_def(self, name: str, cls: str, call: cst.Call) -> None:
        positional = [a.value for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        trailing = keywords.get("trailing_slash")
        slash = None
        if trailing is not None:
            slash = not (isinstance(trailing, cst.Name) and trailing.value in ("False", "None"))
            text = string_value(trailing)
            if text is not None:
                slash = bool(text)
        parent = parent_prefix = lookup = None
        if len(positional) >= 2:  # NestedSimpleRouter(parent_router, "parent", lookup="x")
            parent = self.ctx.resolve(positional[0])
            parent_prefix = string_value(positional[1])
            if parent is None or not parent.startswith("q:") or parent_prefix is None:
                parent = parent_prefix = None
            lookup_node = keywords.get("lookup")
            lookup = string_value(lookup_node) if lookup_node is not None else None
        self.ctx.facts.router_defs.append(
            RouterDef(name, f"q:{cls}", self.ctx.line, slash, parent, parent_prefix, lookup)
        )

    def _register(self, call: cst.Call) -> _Item | None:
        if id(call) in self._items:
            return self._items[id(call)]
        self._items[id(call)] = None
        ctx = self.ctx
        positional = [a.value for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        prefix_node = positional[0] if positional else keywords.get("prefix")
        viewset_node = positional[1] if len(positional) > 1 else keywords.get("viewset")
        if prefix_node is None or viewset_node is None:
            return None
        prefix = string_value(prefix_node)
        viewset = ctx.resolve(viewset_node)
        if prefix is None or viewset is None or not viewset.startswith("q:"):
            return None
        owner = self._owner(call.func.value) if isinstance(call.func, cst.Attribute) else None
        if owner is None:
            return None
        router, chain = owner
        basename_node = (
            keywords.get("basename")
            or keywords.get("base_name")
            or (positional[2] if len(positional) > 2 else None)
        )
        basename = string_value(basename_node) if basename_node is not None else None
        parents: tuple[tuple[str, str], ...] = ()
        if chain:
            lookups_node = keywords.get("parents_query_lookups") or (
                positional[3] if len(positional) > 3 else None
            )
            lookups = _strings(lookups_node)
            if lookups is None:
                return None
            parents = tuple(zip(chain, lookups[-len(chain) :], strict=False))
        ctx.facts.routers.append(
            RouterRegistration(
                router, prefix, viewset, basename, ctx.line, parents, self.conditions.current
            )
        )
        item = (router, (*chain, prefix))
        self._items[id(call)] = item
        return item

    def _owner(self, node: cst.BaseExpression) -> _Item | None:
        """The router (and nesting) a `.register(...)` call is made on."""
        if isinstance(node, cst.Call):
            return self._register(node)  # router.register(...).register(...)
        if isinstance(node, cst.Name) and node.value in self._named:
            return self._named[node.value]
        instance = router_instance(self.ctx, node)
        if instance is not None:  # `api = ApiRoutes()`: a router by what is registered on it
            name, cls = instance
            if not any(d.router == name for d in self.ctx.facts.router_defs):
                self.ctx.facts.router_defs.append(RouterDef(name, cls, self.ctx.line))
            return name, ()
        qualified = self.ctx.qualname(node)
        if qualified is None:
            return None
        name = qualified
        local = name.startswith(f"{self.ctx.module}.")
        if local and name not in self.ctx.facts.router_vars:
            return None  # a local object that is not a router (an admin site, a registry)
        return name, ()


def router_instance(ctx: Context, node: cst.BaseExpression) -> tuple[str, str] | None:
    """(qualified name, class ref) of a module-level name bound to an instance of a class
    whose name does not say it is a router; None for anything else."""
    if not isinstance(node, cst.Name) or node.value not in ctx.module_scope:
        return None
    binding = ctx.module_scope[node.value]
    if not binding.startswith("i:q:"):
        return None
    return f"{ctx.module}.{node.value}", binding[2:]


def _strings(node: cst.BaseExpression | None) -> list[str] | None:
    if not isinstance(node, cst.List | cst.Tuple):
        return None
    values = [string_value(e.value) for e in node.elements]
    return [v for v in values if v is not None] if all(v is not None for v in values) else None
