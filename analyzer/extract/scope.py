"""Binds names as the walk meets them: imports, definitions, simple assignments, loop targets."""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import Context, dotted, string_value
from analyzer.facts import Import, Ref, SignalDef, Warning_

_SIGNAL_CLASSES = ("Signal", "ModelSignal")


def absolute_module(ctx: Context, node: cst.ImportFrom) -> str | None:
    """The absolute module a ``from ... import`` names, resolving leading dots."""
    module = (dotted(node.module) or "") if node.module is not None else ""
    dots = len(node.relative)
    if not dots:
        return module
    base = ctx.package.split(".") if ctx.package else []
    if dots - 1 > len(base):
        return None
    base = base[: len(base) - (dots - 1)]
    return ".".join([*base, module] if module else base) or None


def bind_import(ctx: Context, node: cst.Import | cst.ImportFrom, record: bool) -> None:
    """Bind the names an import statement introduces; record Import facts when asked."""
    line = ctx.line
    at_module = ctx.at_module_level
    if isinstance(node, cst.Import):
        for alias in node.names:
            target = dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                ctx.bind(alias.asname.name.value, f"q:{target}")
                if at_module:
                    ctx.facts.exports[alias.asname.name.value] = target
            else:
                top = target.split(".")[0]
                ctx.bind(top, f"q:{top}")
            if record:
                ctx.facts.imports.append(Import(target, line))
        return
    module = absolute_module(ctx, node)
    if module is None:
        if record:
            ctx.facts.warnings.append(_warn(ctx, "relative import goes above the source root"))
        return
    if isinstance(node.names, cst.ImportStar):
        if at_module:
            ctx.star_imports = True
        if record:
            ctx.facts.imports.append(Import(module, line))
            if at_module:
                ctx.facts.star_imports.append(module)
        return
    for alias in node.names:
        name = dotted(alias.name) or ""
        local = name
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        ctx.bind(local, f"q:{module}.{name}")
        if at_module:
            ctx.facts.exports[local] = f"{module}.{name}"
        if record:
            ctx.facts.imports.append(Import(f"{module}.{name}", line))


def _warn(ctx: Context, message: str) -> Warning_:
    return Warning_(ctx.facts.path, message, ctx.line)


def prebind_module(ctx: Context, module: cst.Module) -> None:
    """Bind module-level imports and definitions before the walk (Python resolves them late)."""
    stack: list[cst.CSTNode] = list(module.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import | cst.ImportFrom):
                    bind_import(ctx, small, record=False)
        elif isinstance(stmt, cst.ClassDef | cst.FunctionDef):
            ctx.bind(stmt.name.value, f"q:{ctx.module}.{stmt.name.value}")
        elif isinstance(stmt, cst.If | cst.Try):
            stack.extend(stmt.body.body)
            if isinstance(stmt, cst.Try):
                for handler in stmt.handlers:
                    stack.extend(handler.body.body)
            elif stmt.orelse is not None and isinstance(stmt.orelse, cst.Else):
                stack.extend(stmt.orelse.body.body)


def sql_text(ctx: Context, node: cst.BaseExpression | None) -> str | None:
    """Text of a string expression as far as it is static; f-string holes become ``_x``."""
    if node is None:
        return None
    value = string_value(node)
    if value is not None:
        return value
    if isinstance(node, cst.FormattedString):
        parts = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                parts.append("_x")
        return "".join(parts)
    if isinstance(node, cst.ConcatenatedString):
        left, right = sql_text(ctx, node.left), sql_text(ctx, node.right)
        return (left or "") + (right or "") if left or right else None
    if isinstance(node, cst.BinaryOperation):
        left = sql_text(ctx, node.left)
        if isinstance(node.operator, cst.Modulo):
            return left
        if isinstance(node.operator, cst.Add):
            right = sql_text(ctx, node.right)
            return (left or "") + (right or "") if left or right else None
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value == "format":
            return sql_text(ctx, node.func.value)
        return None
    if isinstance(node, cst.Name):
        bound = ctx.lookup(node.value)
        if bound is not None and bound.startswith("t:"):
            return bound[2:]
    return None


class ScopeTracker:
    """The first listener of every walk: keeps the Context's scopes in step with the code."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def visit_Import(self, node: cst.Import) -> None:
        bind_import(self.ctx, node, record=True)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        bind_import(self.ctx, node, record=True)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self.ctx.at_module_level:
            self.ctx.bind(node.name.value, f"q:{self.ctx.qualify(node.name.value)}")
        self.ctx.enter_class(node.name.value)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.ctx.leave_class()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.ctx.at_module_level and not self.ctx.in_class_body:
            self.ctx.bind(node.name.value, f"q:{self.ctx.qualify(node.name.value)}")
        self.ctx.enter_function(node.name.value, node.params)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ctx.leave_function()

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.ctx.in_class_body:
            return
        for target in node.targets:
            self._bind_target(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and not self.ctx.in_class_body:
            self._bind_target(node.target, node.value)

    def visit_If(self, node: cst.If) -> None:
        self.ctx.conditional += 1

    def leave_If(self, node: cst.If) -> None:
        self.ctx.conditional -= 1

    def visit_Try(self, node: cst.Try) -> None:
        self.ctx.conditional += 1

    def leave_Try(self, node: cst.Try) -> None:
        self.ctx.conditional -= 1

    def visit_For(self, node: cst.For) -> None:
        if isinstance(node.target, cst.Name):
            root = self.ctx.chain_root(node.iter)
            if root is not None and not root[1].startswith("i:"):
                self.ctx.bind(node.target.value, f"i:{root[1]}")

    def _bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        ctx = self.ctx
        if isinstance(target, cst.Tuple) and target.elements:
            first = target.elements[0].value
            if isinstance(first, cst.Name) and isinstance(value, cst.Call):
                result = ctx.call_result(value)  # obj, created = X.objects.get_or_create()
                if result is not None and result.startswith("i:"):
                    ctx.bind(first.value, result)
            return
        if not isinstance(target, cst.Name):
            return
        name = target.value
        binding: Ref | None
        if isinstance(value, cst.Call):
            binding = ctx.call_result(value)
            func = ctx.qualname(value.func)
            if ctx.at_module_level and func is not None:
                last = func.rsplit(".", 1)[-1]
                # module-level objects other modules import by name: keep them addressable
                if last in _SIGNAL_CLASSES:
                    ctx.facts.signals.append(SignalDef(f"{ctx.module}.{name}", ctx.line))
                    binding = None
                elif last.endswith("Router") or last == "NinjaAPI":
                    ctx.facts.router_vars[f"{ctx.module}.{name}"] = func
                    binding = None
            if binding is None and ctx.at_module_level:
                binding = f"q:{ctx.module}.{name}"
        elif isinstance(value, cst.Name | cst.Attribute):
            binding = ctx.resolve(value)
        else:
            text = sql_text(ctx, value)
            binding = f"t:{text}" if text is not None else None
            if ctx.at_module_level and name == "app_name" and text is not None:
                ctx.facts.app_name = text
            if binding is None and ctx.at_module_level:
                binding = f"q:{ctx.module}.{name}"
        if binding is not None:
            previous = ctx.lookup(name) if ctx.at_module_level and ctx.conditional else None
            if previous is not None and previous.startswith("t:"):
                return  # `x = ""` then `if ...: x = ...`: keep the value it has by default
            ctx.bind(name, binding)
        elif not ctx.at_module_level:
            ctx.scopes[-1].pop(name, None)  # rebinding to something unknown forgets the old type
