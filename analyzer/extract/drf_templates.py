"""A DRF router class's own ``routes = [Route(...), DynamicRoute(...)]``, read where static.

A router subclass that lists its own routes changes every URL it builds (an API with
``^{prefix}/{lookup}/`` only, or the older ``DynamicDetailRoute``/``DynamicListRoute`` entries
of DRF 2.x that projects still vendor). The linker builds URLs from these templates the way
``SimpleRouter.get_urls`` does; a list it cannot read whole is left out, and the defaults apply.
"""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import dotted, string_value
from analyzer.facts import RouteTemplate

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
