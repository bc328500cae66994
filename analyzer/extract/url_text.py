"""The text of a URL pattern where it is static, small readers of call arguments, and
``static()``'s one pattern."""

from __future__ import annotations

import re

import libcst as cst

from analyzer.extract.context import Context, string_value
from analyzer.facts import UrlEntry, Warning_


def keyword_is_false(call: cst.Call, name: str) -> bool:
    return any(
        a.keyword is not None and a.keyword.value == name
        and isinstance(a.value, cst.Name) and a.value.value == "False"
        for a in call.args
    )  # fmt: skip


def static_text(ctx: Context, node: cst.BaseExpression) -> str | None:
    """A pattern's text where it is static: literals, names bound to a string, f-strings of
    those (healthchecks writes ``path(f"{prefix}admin/", ...)``)."""
    text = string_value(node)
    if text is not None:
        return text
    if isinstance(node, cst.Name):
        bound = ctx.lookup(node.value)
        return bound[2:] if bound is not None and bound.startswith("t:") else None
    if isinstance(node, cst.Attribute):
        name = ctx.qualname(node)
        if name is not None and name.startswith("django.conf.settings."):
            # a deployment prefix such as settings.BASE_PATH: empty unless configured
            ctx.facts.warnings.append(
                Warning_(
                    ctx.facts.path,
                    f"URL prefix {name[12:]} is read as empty, its usual "
                    "default; routes are listed without it",
                    ctx.line,
                )  # fmt: skip
            )
            return ""
        return None
    if isinstance(node, cst.FormattedString):
        parts: list[str] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            elif isinstance(part, cst.FormattedStringExpression) and part.format_spec is None:
                inner = static_text(ctx, part.expression)
                if inner is None:
                    return None
                parts.append(inner)
            else:
                return None
        return "".join(parts)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        left, right = static_text(ctx, node.left), static_text(ctx, node.right)
        return left + right if left is not None and right is not None else None
    return None


def static_files(ctx: Context, call: cst.Call, condition: str | None) -> UrlEntry | None:
    """``static("/media/", view=...)``: one pattern, served only when settings.DEBUG."""
    positional = [a.value for a in call.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    prefix = string_value(positional[0]) if positional else None
    if not prefix or "://" in prefix:
        return None  # a prefix from settings (MEDIA_URL) is not known here
    view_node = keywords.get("view")
    view = ctx.resolve(view_node) if view_node is not None else None
    if view is None or not view.startswith("q:"):
        view = "q:django.views.static.serve"
    if condition is None or "settings.DEBUG" not in condition:
        condition = f"({condition}) and settings.DEBUG" if condition else "settings.DEBUG"
    pattern = rf"^{re.escape(prefix.lstrip('/'))}(?P<path>.*)$"
    return UrlEntry("re_path", pattern, ctx.line, view, condition=condition)
