"""Whether a condition written in a urlconf (``if settings.DEBUG:``) holds, as far as the
settings read statically tell: True, False, or None when it depends on something unknown."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping

_UNKNOWN = object()


def _parse(expression: str) -> ast.expr:
    """The expression's tree; what the analysed code's own text makes Python warn about
    (an invalid escape) is not the analyzer's to print."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(expression, mode="eval").body


def evaluate(expression: str, settings: Mapping[str, object]) -> bool | None:
    """True or False when every setting the expression reads is known, else None."""
    try:
        value = _value(_parse(expression), settings)
        return None if value is _UNKNOWN else bool(value)
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None  # a test it cannot read is one it does not know


def residual(expression: str, settings: Mapping[str, object]) -> bool | str:
    """False or True when the settings decide `expression`; otherwise the part of it they
    do not decide, as written: ``not settings.A and os.environ.get("X")`` with A False
    leaves ``os.environ.get("X")``."""
    known = evaluate(expression, settings)
    if known is not None:
        return known
    try:
        tree = _parse(expression)
        if not (isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And)):
            return expression
        parts = []
        for part in tree.values:
            text = ast.get_source_segment(expression, part) or ""
            if evaluate(text, settings) is None:
                parts.append(f"({text})" if isinstance(part, ast.BoolOp) else text)
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return expression
    return " and ".join(parts) or expression


def _value(node: ast.AST, settings: Mapping[str, object]) -> object:
    if isinstance(node, ast.BoolOp):
        values = [_value(v, settings) for v in node.values]
        if isinstance(node.op, ast.And):
            if any(v is not _UNKNOWN and not v for v in values):
                return False
            return _UNKNOWN if _UNKNOWN in values else all(values)
        if any(v is not _UNKNOWN and v for v in values):
            return True
        return _UNKNOWN if _UNKNOWN in values else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _value(node.operand, settings)
        return _UNKNOWN if inner is _UNKNOWN else not inner
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute) and _is_settings(node.value):
        return settings.get(node.attr, _UNKNOWN)
    if isinstance(node, ast.Call) and _is_getattr_of_settings(node):
        # a setting the static reading lacks may still be set at run time: its default is
        # not taken for its value
        name = node.args[1].value  # type: ignore[attr-defined]
        return settings.get(name, _UNKNOWN) if isinstance(name, str) else _UNKNOWN
    if isinstance(node, ast.Call) and _is_dict_get(node):  # settings.IMPORTERS.get("x", {})
        owner = _value(node.func.value, settings)  # type: ignore[attr-defined]
        args = [_value(a, settings) for a in node.args]
        if not isinstance(owner, dict) or _UNKNOWN in args:
            return _UNKNOWN
        return owner.get(*args)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        items: list[tuple[object, object]] = [
            (_value(k, settings), _value(v, settings))
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        ]
        if any(_UNKNOWN in pair for pair in items):
            return _UNKNOWN
        try:
            return dict(items)
        except TypeError:
            return _UNKNOWN
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        elements = [_value(e, settings) for e in node.elts]
        return _UNKNOWN if _UNKNOWN in elements else elements
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _value(node.left, settings), _value(node.comparators[0], settings)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        return _compare(node.ops[0], left, right)
    return _UNKNOWN


def _compare(op: ast.cmpop, left: object, right: object) -> object:
    try:
        if isinstance(op, ast.Eq):
            return left == right
        if isinstance(op, ast.NotEq):
            return left != right
        if isinstance(op, ast.In):
            return left in right  # type: ignore[operator]
        if isinstance(op, ast.NotIn):
            return left not in right  # type: ignore[operator]
        if isinstance(op, ast.Is):
            return left is right
        if isinstance(op, ast.IsNot):
            return left is not right
    except TypeError:
        return _UNKNOWN
    return _UNKNOWN


def _is_dict_get(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and 1 <= len(node.args) <= 2
        and not node.keywords
    )


def _is_settings(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "settings") or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def _is_getattr_of_settings(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and _is_settings(node.args[0])
        and isinstance(node.args[1], ast.Constant)
    )
