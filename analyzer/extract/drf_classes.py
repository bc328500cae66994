"""What DRF classes declare: a viewset's ``@action`` methods (and the methods added to them
with ``@<action>.mapping.<method>``), and a router class's own ``routes = [Route(...),
DynamicRoute(...)]``, read where static.

A router subclass that lists its own routes changes every URL it builds (an API with
``^{prefix}/{lookup}/`` only, or the older ``DynamicDetailRoute``/``DynamicListRoute`` entries
of DRF 2.x that projects still vendor). The linker builds URLs from these templates the way
``SimpleRouter.get_urls`` does; a list it cannot read whole is left out, and the defaults apply.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from analyzer.extract.context import Context, dotted, string_value
from analyzer.facts import RouteTemplate, ViewAction

# positional fields of each namedtuple, as DRF (and DRF 2.x) declare them
_FIELDS = {
    "Route": ("url", "mapping", "name", "detail", "initkwargs"),
    "DynamicRoute": ("url", "name", "detail", "initkwargs"),
    "DynamicDetailRoute": ("url", "name", "initkwargs"),
    "DynamicListRoute": ("url", "name", "initkwargs"),
}


def route_templates(value: cst.List | cst.Tuple) -> tuple[RouteTemplate, ...]:
    """The templates of a ``routes`` list, or () when any entry is not static."""
    out: list[RouteTemplate] = []
    for element in value.elements:
        template = _template(element.value)
        if template is None:
            return ()
        out.append(template)
    return tuple(out)


def _template(node: cst.BaseExpression) -> RouteTemplate | None:
    if not isinstance(node, cst.Call):
        return None
    kind = (dotted(node.func) or "").rsplit(".", 1)[-1]
    fields = _FIELDS.get(kind)
    if fields is None:
        return None
    if kind == "Route" and _is_old_route(node):
        fields = ("url", "mapping", "name", "initkwargs")
    args: dict[str, cst.BaseExpression] = {}
    for index, arg in enumerate(node.args):
        if arg.keyword is not None:
            args[arg.keyword.value] = arg.value
        elif index < len(fields):
            args[fields[index]] = arg.value
    url = string_value(args["url"]) if "url" in args else None
    name = string_value(args["name"]) if "name" in args else None
    if url is None or name is None:
        return None
    detail: bool | None = None
    if kind == "DynamicDetailRoute":
        detail = True
    elif kind == "DynamicListRoute":
        detail = False
    elif "detail" in args and isinstance(args["detail"], cst.Name):
        detail = {"True": True, "False": False}.get(args["detail"].value)
    mapping: list[tuple[str, str]] = []
    if kind == "Route":
        table = args.get("mapping")
        if not isinstance(table, cst.Dict):
            return None
        for item in table.elements:
            if not isinstance(item, cst.DictElement):
                return None
            method, action = string_value(item.key), string_value(item.value)
            if method is None or action is None:
                return None
            mapping.append((method.upper(), action))
    return RouteTemplate(url, name, tuple(mapping), detail, dynamic=kind != "Route")


def _is_old_route(call: cst.Call) -> bool:
    """DRF 2.x's Route has no `detail` field: its fourth positional is `initkwargs` (a dict)."""
    positional = [a.value for a in call.args if a.keyword is None]
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    if "detail" in keywords:
        return False
    return (
        len(positional) >= 4
        and isinstance(positional[3], cst.Dict)
        or ("initkwargs" in keywords and len(positional) < 4)
    )


def view_action(ctx: Context, node: cst.FunctionDef) -> ViewAction | None:
    """``@action(detail=True, methods=["post"], url_path=...)`` (or DRF 2's ``@detail_route`` /
    ``@list_route``) on a method."""
    for decorator in node.decorators:
        expr = decorator.decorator
        call = expr if isinstance(expr, cst.Call) else None
        target = call.func if call else expr
        name = ctx.qualname(target) or dotted(target)
        if name is None or name.rsplit(".", 1)[-1] not in ("action", "detail_route", "list_route"):
            continue
        detail = name.endswith("detail_route")
        methods: tuple[str, ...] = ("get",)
        url_path = node.name.value
        if call is not None:
            keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
            detail_node = keywords.get("detail")
            if isinstance(detail_node, cst.Name):
                detail = detail_node.value == "True"
            values = _string_list(keywords.get("methods"))
            if values:
                methods = tuple(m.lower() for m in values)
            path_node = keywords.get("url_path")
            if path_node is not None:
                url_path = string_value(path_node) or url_path
        return ViewAction(node.name.value, detail, methods, url_path, ctx.line)
    return None


def add_extra_mapping(node: cst.FunctionDef, actions: list[ViewAction]) -> None:
    """``@delete_version.mapping.patch``: one more method on an action's URL, served by
    this method."""
    for decorator in node.decorators:
        expr = decorator.decorator
        if not (
            isinstance(expr, cst.Attribute)
            and isinstance(expr.value, cst.Attribute)
            and expr.value.attr.value == "mapping"
            and isinstance(expr.value.value, cst.Name)
        ):
            continue
        target = expr.value.value.value
        for index, action in enumerate(actions):
            if action.name == target:
                extra = (*action.extra, (expr.attr.value.upper(), node.name.value))
                actions[index] = replace(action, extra=extra)


def _string_list(node: cst.BaseExpression | None) -> list[str]:
    if not isinstance(node, cst.List | cst.Tuple):
        return []
    values = [string_value(e.value) for e in node.elements]
    return [v for v in values if v is not None]
