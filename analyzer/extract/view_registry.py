"""Views attached to models at run time by a registry call (netbox's
``register_model_view(model, "journal", kwargs=...)("pkg.views.JournalView")``), which
``get_model_urls(app, model)`` later turns into routes.

Written inside a function for each model it is given, under ``if issubclass(model, Mixin):``,
the registration holds for every model that subclasses the mixin: its model is
``"sub:<mixin qualname>"``. (The class-decorator form is read in definitions.py.)
"""

from __future__ import annotations

import libcst as cst

from analyzer.extract.conditions import Conditions
from analyzer.extract.context import Context, dotted, string_value
from analyzer.facts import ViewRegistration


def registered_view(
    ctx: Context, call: cst.Call, conditions: Conditions
) -> ViewRegistration | None:
    """`call` is ``register_model_view(model, name, ...)(view)``: the registration, if static."""
    inner = call.func
    if not isinstance(inner, cst.Call) or not call.args:
        return None
    if (dotted(inner.func) or "").rsplit(".", 1)[-1] != "register_model_view":
        return None
    positional = [a.value for a in inner.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in inner.args if a.keyword is not None}
    model_node = positional[0] if positional else keywords.get("model")
    model = _model(ctx, model_node, conditions) if model_node is not None else None
    view_node = call.args[0].value
    view = string_value(view_node)
    if view is None:
        ref = ctx.resolve(view_node)
        view = ref[2:] if ref is not None and ref.startswith("q:") else None
    if model is None or view is None:
        return None
    name_node = positional[1] if len(positional) > 1 else keywords.get("name")
    name = (string_value(name_node) if name_node is not None else "") or ""
    path_node = positional[2] if len(positional) > 2 else keywords.get("path")
    path = string_value(path_node) if path_node is not None else None
    detail_node = positional[3] if len(positional) > 3 else keywords.get("detail")
    detail = not (isinstance(detail_node, cst.Name) and detail_node.value == "False")
    return ViewRegistration(model, name, name if path is None else path, detail, view, ctx.line)


def _model(ctx: Context, node: cst.BaseExpression, conditions: Conditions) -> str | None:
    if isinstance(node, cst.Name):
        for test in conditions.holding():  # if issubclass(model, Mixin):
            if (
                isinstance(test, cst.Call)
                and dotted(test.func) == "issubclass"
                and len(test.args) == 2
                and isinstance(test.args[0].value, cst.Name)
                and test.args[0].value.value == node.value
            ):
                mixin = ctx.qualname(test.args[1].value)
                if mixin is not None:
                    return f"sub:{mixin}"
    return ctx.model_ref(node)
