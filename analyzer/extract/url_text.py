"""The text of a URL pattern where it is static, and small readers of call arguments."""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import Context, string_value
from analyzer.facts import Warning_


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
