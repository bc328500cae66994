"""Read a Django settings module without importing it.

Settings are code, so this evaluates only what is safe and static: string and list literals,
``+``, ``+=``, ``append``/``extend``/``insert``/``remove``, names assigned earlier, and
``from .base import *`` chains. Whatever it cannot evaluate is reported, so the caller can say
that the list of apps is partial and fall back to finding apps by their AppConfig.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from analyzer.extract.context import dotted, string_value

WANTED = ("INSTALLED_APPS", "ROOT_URLCONF", "AUTH_USER_MODEL")
# Finds the file a `from x import *` names: (path, package) inside the analysed tree, or None.
ModuleFinder = Callable[[cst.ImportFrom, str], "tuple[Path, str] | None"]


@dataclass
class SettingsValues:
    installed_apps: list[str] = field(default_factory=list)
    root_urlconf: str | None = None
    auth_user_model: str | None = None
    files: list[Path] = field(default_factory=list)  # the settings file and what it star-imports
    unreadable: list[tuple[Path, int, str]] = field(default_factory=list)  # (file, line, what)


class _Evaluator:
    def __init__(self, module_file: ModuleFinder) -> None:
        self.names: dict[str, object] = {}
        self.result = SettingsValues()
        self._module_file = module_file
        self._seen: set[Path] = set()

    def run(self, path: Path, package: str) -> None:
        if path in self._seen:
            return
        self._seen.add(path)
        self.result.files.append(path)
        try:
            source = path.read_bytes()
            tree = cst.parse_module(source)
        except (OSError, cst.ParserSyntaxError, UnicodeDecodeError, RecursionError) as exc:
            self.result.unreadable.append(
                (path, 0, f"cannot read settings ({exc.__class__.__name__})")
            )
            return
        positions = cst.metadata.MetadataWrapper(tree, unsafe_skip_copy=True).resolve(
            cst.metadata.PositionProvider
        )
        self._lines = positions
        self._path = path
        self._package = package
        self._block(tree.body)

    def _line(self, node: cst.CSTNode) -> int:
        position = self._lines.get(node)
        return position.start.line if position else 0

    def _block(self, body) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._small(small, stmt)
            elif isinstance(stmt, cst.If | cst.Try | cst.For | cst.With):
                path, package, lines = self._path, self._package, self._lines
                self._block(stmt.body.body)
                if isinstance(stmt, cst.Try):
                    for handler in stmt.handlers:
                        self._block(handler.body.body)
                orelse = getattr(stmt, "orelse", None)
                while orelse is not None:
                    self._block(orelse.body.body)
                    orelse = getattr(orelse, "orelse", None) if isinstance(orelse, cst.If) else None
                self._path, self._package, self._lines = path, package, lines

    def _small(self, small: cst.BaseSmallStatement, stmt: cst.CSTNode) -> None:
        if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
            target = self._module_file(small, self._package)
            if target is not None:
                saved = (self._path, self._package, self._lines)
                self.run(*target)
                self._path, self._package, self._lines = saved
            return
        if isinstance(small, cst.Assign):
            for target in small.targets:
                if isinstance(target.target, cst.Name):
                    self._assign(target.target.value, small.value, stmt)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            if isinstance(small.target, cst.Name):
                self._assign(small.target.value, small.value, stmt)
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            name = small.target.value
            value = self._eval(small.value)
            current = self.names.get(name)
            if isinstance(current, list) and isinstance(value, list):
                self.names[name] = current + value
            elif name in WANTED:
                self._unreadable(stmt, f"{name} +=")
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self._method_call(small.value, stmt)

    def _assign(self, name: str, value_node: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        value = self._eval(value_node)
        if value is None:
            if name in WANTED:
                self._unreadable(stmt, f"{name} =")
            return
        self.names[name] = value

    def _method_call(self, call: cst.Call, stmt: cst.CSTNode) -> None:
        func = call.func
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name):
            return
        name, method = func.value.value, func.attr.value
        current = self.names.get(name)
        if not isinstance(current, list):
            return
        args = [self._eval(a.value) for a in call.args]
        if method == "append" and args and isinstance(args[0], str):
            current.append(args[0])
        elif method == "extend" and args and isinstance(args[0], list):
            current.extend(args[0])
        elif method == "insert" and len(args) == 2 and isinstance(args[1], str):
            current.insert(args[0] if isinstance(args[0], int) else 0, args[1])
        elif method == "remove" and args and isinstance(args[0], str):
            if args[0] in current:
                current.remove(args[0])
        elif name in WANTED:
            self._unreadable(stmt, f"{name}.{method}(...)")

    def _unreadable(self, stmt: cst.CSTNode, what: str) -> None:
        self.result.unreadable.append((self._path, self._line(stmt), what))

    def _eval(self, node: cst.BaseExpression) -> object:
        text = string_value(node)
        if text is not None:
            return text
        if isinstance(node, cst.Integer):
            return int(node.value)
        if isinstance(node, cst.List | cst.Tuple | cst.Set):
            out: list[str] = []
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    inner = self._eval(element.value)
                    if not isinstance(inner, list):
                        return None
                    out.extend(inner)
                    continue
                value = self._eval(element.value)
                if not isinstance(value, str):
                    return None
                out.append(value)
            return out
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            left, right = self._eval(node.left), self._eval(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return None
        if isinstance(node, cst.Name):
            value = self.names.get(node.value)
            return list(value) if isinstance(value, list) else value
        if isinstance(node, cst.Call) and dotted(node.func) in ("list", "tuple") and node.args:
            return self._eval(node.args[0].value)
        return None


def read_settings(path: Path, package: str, module_file: ModuleFinder) -> SettingsValues:
    """Evaluate a settings file and the files it star-imports."""
    evaluator = _Evaluator(module_file)
    evaluator.run(path, package)
    result = evaluator.result
    apps = evaluator.names.get("INSTALLED_APPS")
    result.installed_apps = list(dict.fromkeys(apps)) if isinstance(apps, list) else []
    urlconf = evaluator.names.get("ROOT_URLCONF")
    result.root_urlconf = urlconf if isinstance(urlconf, str) else None
    user = evaluator.names.get("AUTH_USER_MODEL")
    result.auth_user_model = user if isinstance(user, str) else None
    return result
