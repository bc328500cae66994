"""ORM expressions: which model a chain starts from, which methods it calls, which lookups
it follows (``Order.objects.filter(customer__profile__city=...)``)."""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import SHORTCUT_GETTERS, Context, string_value, unchain
from analyzer.facts import OrmCall

READS = frozenset(
    [
        "all",
        "filter",
        "exclude",
        "get",
        "first",
        "last",
        "count",
        "exists",
        "aggregate",
        "annotate",
        "values",
        "values_list",
        "iterator",
        "in_bulk",
        "earliest",
        "latest",
        "order_by",
        "distinct",
        "select_related",
        "prefetch_related",
        "only",
        "defer",
        "raw",
        "select_for_update",
        "none",
        "dates",
        "datetimes",
        "union",
        "intersection",
        "difference",
        "using",
        "alias",
        "contains",
        "explain",
        "refresh_from_db",
        "aget",
        "afirst",
        "alast",
        "acount",
        "aexists",
        "aaggregate",
        "ain_bulk",
        "aiterator",
        "acontains",
        "arefresh_from_db",
    ]
)
WRITES = frozenset(
    [
        "create",
        "get_or_create",
        "update_or_create",
        "update",
        "delete",
        "bulk_create",
        "bulk_update",
        "save",
        "acreate",
        "aget_or_create",
        "aupdate_or_create",
        "aupdate",
        "adelete",
        "abulk_create",
        "abulk_update",
        "asave",
        "add",
        "remove",
        "clear",
        "set",
    ]
)
ORM_METHODS = READS | WRITES
# Methods whose string arguments are field paths.
_PATH_ARGS = frozenset(
    [
        "select_related",
        "prefetch_related",
        "order_by",
        "values",
        "values_list",
        "only",
        "defer",
        "distinct",
    ]
)
_NOT_LOOKUPS = frozenset({"defaults", "create_defaults", "using", "flat", "named", "of"})
# Methods whose keyword arguments set fields rather than filter on them.
_ASSIGNING = frozenset(
    ["create", "acreate", "update", "aupdate", "bulk_create", "bulk_update", "save", "asave"]
)
_LIST_SHORTCUTS = {"django.shortcuts.get_list_or_404"}


def _lookups_in(node: cst.BaseExpression, out: list[str], depth: int = 0) -> None:
    """Field paths inside Q(...), F("..."), Prefetch("...") found in an argument."""
    if depth > 6:
        return
    if isinstance(node, cst.Call):
        name = (
            node.func.attr.value
            if isinstance(node.func, cst.Attribute)
            else (node.func.value if isinstance(node.func, cst.Name) else "")
        )
        if name in (
            "Q",
            "F",
            "Prefetch",
            "OuterRef",
            "Count",
            "Sum",
            "Avg",
            "Max",
            "Min",
            "Exists",
        ):
            for arg in node.args:
                if arg.keyword is not None:
                    if name == "Q":
                        out.append(arg.keyword.value)
                    continue
                text = string_value(arg.value)
                if text is not None:
                    out.append(text)
                else:
                    _lookups_in(arg.value, out, depth + 1)
    elif isinstance(node, cst.BinaryOperation):
        _lookups_in(node.left, out, depth + 1)
        _lookups_in(node.right, out, depth + 1)
    elif isinstance(node, cst.UnaryOperation):
        _lookups_in(node.expression, out, depth + 1)


def _call_lookups(method: str, call: cst.Call) -> list[str]:
    out: list[str] = []
    for arg in call.args:
        if arg.star == "**":
            continue
        if arg.keyword is not None:
            if arg.keyword.value not in _NOT_LOOKUPS and method not in _ASSIGNING:
                out.append(arg.keyword.value)
            _lookups_in(arg.value, out)
            continue
        text = string_value(arg.value)
        if text is not None:
            if method in _PATH_ARGS:
                out.append("+" + text.lstrip("-"))  # "+": a path walked in full
        else:
            _lookups_in(arg.value, out)
    return out


class Orm:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._inner: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self._inner:
            self._inner.discard(id(node))
            return
        ctx = self.ctx
        func = ctx.qualname(node.func)
        if func is not None and (func in SHORTCUT_GETTERS or func in _LIST_SHORTCUTS):
            if node.args:
                model = ctx.model_ref(node.args[0].value)
                if model is not None:
                    ctx.facts.orm.append(
                        OrmCall(model, False, ("objects",), ("get",),
                                tuple(_call_lookups("get", node)), ctx.line,
                                ctx.function, tuple(ctx.blocks))
                    )  # fmt: skip
            return
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in ORM_METHODS:
            return
        root = ctx.chain_root(node)
        if root is None:
            return
        index, binding = root
        chain = unchain(node)
        path: list[str] = []
        methods: list[str] = []
        lookups: list[str] = []
        for position in range(index + 1, len(chain)):
            link = chain[position]
            if isinstance(link, cst.Call):
                if isinstance(link.func, cst.Attribute):
                    method = link.func.attr.value
                    methods.append(method)
                    lookups.extend(_call_lookups(method, link))
                if link is not node:
                    self._inner.add(id(link))
            elif isinstance(link, cst.Attribute):
                following = chain[position + 1] if position + 1 < len(chain) else None
                if not (isinstance(following, cst.Call) and following.func is link):
                    if methods:
                        return  # an attribute after a call: not an ORM chain we understand
                    path.append(link.attr.value)
        if not methods or not any(m in ORM_METHODS for m in methods):
            return
        instance = binding.startswith("i:")
        model = binding[2:] if instance else binding
        if not instance and not path:
            return  # Model.save() on the class itself is not a query
        ctx.facts.orm.append(
            OrmCall(model, instance, tuple(path), tuple(methods), tuple(lookups), ctx.line,
                    ctx.function, tuple(ctx.blocks))
        )  # fmt: skip
