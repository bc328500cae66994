"""Read a Django settings module without importing it.

Settings are code, so this evaluates only what is safe and static: every literal Python allows
(numbers in any spelling, strings, bytes, f-strings of known parts, lists, tuples, sets, dicts),
``+``, ``+=``, ``append``/``extend``/``insert``/``remove``, names assigned earlier, and
``from .base import *`` chains. Whatever it cannot evaluate is reported, so the caller can say
that the list of apps is partial and fall back to finding apps by their AppConfig. An
unexpected exception on one statement is reported as an analyzer bug for that line, and the
reading goes on with the next statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from analyzer.bugs import bug_warning
from analyzer.extract.context import UNKNOWN, dotted, literal_value
from analyzer.extract.parse import TooDeep, parse_module
from analyzer.facts import Warning_

_DOTTED = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*")  # a module or AppConfig path
_LABEL = re.compile(r"[^.\s]+\.[^.\s]+")  # app_label.ModelName
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
    warnings: list[tuple[Path, Warning_]] = field(default_factory=list)  # as they are, per file
    values: dict[str, object] = field(default_factory=dict)  # every setting read statically


class _Evaluator:
    def __init__(self, module_file: ModuleFinder) -> None:
        self.names: dict[str, object] = {}
        self.uncertain: set[str] = set()  # last set to something that cannot be read
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
            tree = parse_module(source)
            positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
        except (OSError, SyntaxError, cst.ParserSyntaxError, UnicodeDecodeError, LookupError, RecursionError, TooDeep) as exc:  # fmt: skip
            self.result.unreadable.append(
                (path, 0, f"cannot read settings ({exc.__class__.__name__})")
            )
            return
        except Exception as exc:  # an analyzer bug: this file's settings stay unknown
            self.result.warnings.append(
                (path, bug_warning(str(path), None, f"settings {path.name}", exc))
            )
            return
        self._lines = positions
        self._path = path
        self._package = package
        self._block(tree.body)

    def _line(self, node: cst.CSTNode) -> int:
        position = self._lines.get(node)
        return position.start.line if position else 0

    def _block(self, body) -> None:
        for stmt in body:
            path, package, lines = self._path, self._package, self._lines
            try:
                self._statement(stmt)
            except RecursionError:
                self._path, self._package, self._lines = path, package, lines
                self._unreadable(stmt, "a statement that nests too deeply")
            except Exception as exc:  # the one guard per statement: the next one is read
                self._path, self._package, self._lines = path, package, lines
                what = f"setting {_assigned_name(stmt) or 'statement'}"
                warning = bug_warning("", self._line(stmt), what, exc)
                self.result.warnings.append((self._path, warning))

    def _statement(self, stmt: cst.BaseStatement) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, stmt)
        elif isinstance(stmt, cst.If | cst.Try | cst.For | cst.With):
            path, package, lines = self._path, self._package, self._lines
            self._suite(stmt.body)
            if isinstance(stmt, cst.Try):
                for handler in stmt.handlers:
                    self._suite(handler.body)
            orelse = getattr(stmt, "orelse", None)
            while orelse is not None:
                self._suite(orelse.body)
                orelse = getattr(orelse, "orelse", None) if isinstance(orelse, cst.If) else None
            self._path, self._package, self._lines = path, package, lines

    def _suite(self, suite: cst.BaseSuite) -> None:
        if isinstance(suite, cst.SimpleStatementSuite):  # `if DEBUG: INSTALLED_APPS += [...]`
            for small in suite.body:
                self._small(small, suite)
        else:
            self._block(suite.body)

    def _small(self, small: cst.BaseSmallStatement, stmt: cst.CSTNode) -> None:
        if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
            found = self._module_file(small, self._package)
            if found is not None:
                saved = (self._path, self._package, self._lines)
                self.run(*found)
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
            current = self.names.get(name, UNKNOWN)
            if isinstance(current, list) and isinstance(value, list):
                self.names[name] = current + value
                self.uncertain.discard(name)
            else:
                self.uncertain.add(name)  # changed in a way this reader does not follow
                if name in WANTED:
                    self._unreadable(stmt, f"{name} +=")
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self._method_call(small.value, stmt)

    def _assign(self, name: str, value_node: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        value = self._eval(value_node)
        if value is UNKNOWN:
            self.uncertain.add(name)  # the earlier value, if any, stays for INSTALLED_APPS & co
            if name in WANTED:
                self._unreadable(stmt, f"{name} =")
            return
        self.names[name] = value
        self.uncertain.discard(name)

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
        """A setting's static value, or UNKNOWN. A tuple or set reads as a list in source
        order, so ``INSTALLED_APPS = (...)`` then ``INSTALLED_APPS += [...]`` keeps working."""
        if isinstance(node, cst.Tuple | cst.Set):
            node = cst.List(elements=node.elements)
        return self._value(node)

    def _value(self, node: cst.BaseExpression) -> object:
        if isinstance(node, cst.Name) and node.value in self.names:
            if node.value in self.uncertain:
                return UNKNOWN
            value = self.names[node.value]
            return list(value) if isinstance(value, list) else value
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            left, right = self._eval(node.left), self._eval(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return UNKNOWN
        if isinstance(node, cst.Call) and dotted(node.func) in ("list", "tuple") and node.args:
            value = self._eval(node.args[0].value)
            return value if isinstance(value, list) else UNKNOWN
        return literal_value(node, self._value)


def _assigned_name(stmt: cst.CSTNode) -> str | None:
    """The name a simple statement sets, to name it in a warning."""
    if isinstance(stmt, cst.SimpleStatementLine) and stmt.body:
        small = stmt.body[0]
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
        if isinstance(small, cst.AnnAssign | cst.AugAssign):
            targets = [small.target]
        for target in targets:
            if isinstance(target, cst.Name):
                return target.value
    return None


def read_settings(path: Path, package: str, module_file: ModuleFinder) -> SettingsValues:
    """Evaluate a settings file and the files it star-imports."""
    evaluator = _Evaluator(module_file)
    evaluator.run(path, package)
    result = evaluator.result
    result.values = {k: v for k, v in evaluator.names.items() if k not in evaluator.uncertain}
    apps = evaluator.names.get("INSTALLED_APPS")
    if isinstance(apps, list) and not all(
        isinstance(a, str) and _DOTTED.fullmatch(a) for a in apps
    ):
        wrong = ", ".join(repr(a)[:40] for a in apps if not (isinstance(a, str) and _DOTTED.fullmatch(a)))  # fmt: skip
        result.warnings.append((path, Warning_("", f"INSTALLED_APPS entries that name no module are left out: {wrong}")))  # fmt: skip
        apps = [a for a in apps if isinstance(a, str) and _DOTTED.fullmatch(a)]
    result.installed_apps = list(dict.fromkeys(apps)) if isinstance(apps, list) else []
    urlconf = evaluator.names.get("ROOT_URLCONF")
    result.root_urlconf = (
        urlconf if isinstance(urlconf, str) and _DOTTED.fullmatch(urlconf) else None
    )
    if isinstance(urlconf, str) and result.root_urlconf is None:
        result.warnings.append(
            (path, Warning_("", f"ROOT_URLCONF {urlconf[:60]!r} names no module"))
        )
    user = evaluator.names.get("AUTH_USER_MODEL")
    result.auth_user_model = user if isinstance(user, str) and _LABEL.fullmatch(user) else None
    if isinstance(user, str) and result.auth_user_model is None:
        message = (
            f"AUTH_USER_MODEL {user[:60]!r} is not 'app_label.ModelName'; auth.User is assumed"
        )
        result.warnings.append((path, Warning_("", message)))
    return result
