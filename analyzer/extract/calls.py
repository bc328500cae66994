"""Calls that couple code: with-blocks (atomic and its wrappers), calls to named functions
(task enqueues, signal sends, helpers called inside atomic blocks), ``signal.connect`` and
DRF ``router.register``."""

from __future__ import annotations

import libcst as cst

from analyzer.extract.context import Context, string_value
from analyzer.extract.definitions import model_target
from analyzer.extract.raw_sql import sql_arguments
from analyzer.facts import Call, NinjaMount, Receiver, WithBlock

# Calls into these never couple the analysed project's parts to each other.
_IGNORED_PREFIXES = (
    "django.", "rest_framework.", "typing.", "logging.", "os.", "json.", "datetime.",
    "collections.", "re.", "decimal.", "uuid.", "graphene.", "celery.", "ninja.",
)  # fmt: skip


class Calls:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._pushed: list[int] = []

    def visit_With(self, node: cst.With) -> None:
        ctx = self.ctx
        pushed = 0
        for item in node.items:
            expr = item.item
            target = expr.func if isinstance(expr, cst.Call) else expr
            ref = ctx.resolve(target)
            if ref is None or not ref.startswith("q:"):
                continue
            block = ctx.new_block()
            ctx.facts.blocks.append(WithBlock(block, ctx.line, ref, ctx.function))
            ctx.blocks.append(block)
            pushed += 1
        self._pushed.append(pushed)

    def leave_With(self, node: cst.With) -> None:
        for _ in range(self._pushed.pop()):
            self.ctx.blocks.pop()

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        ref = ctx.resolve(func)
        if ref is None and isinstance(func, cst.Attribute):
            owner = ctx.resolve(func.value)
            if owner is not None and owner.startswith("i:q:"):
                ref = f"{owner[2:]}.{func.attr.value}"  # a method called on a typed instance
        if ref is None or not ref.startswith("q:"):
            return
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            if attr == "connect" and node.args:
                self._connect(node, ref)
            elif attr == "add_router" and len(node.args) >= 2:
                self._ninja_mount(node, ref[2:].rsplit(".", 1)[0])
        if ref[2:].startswith(_IGNORED_PREFIXES) and not ref.endswith((".atomic", ".send_task")):
            return
        if ctx.in_class_body or ".objects." in ref or ref[ref.rfind(".") + 1 :][:1].isupper():
            return  # ORM chains are Orm's; constructors do not couple through behaviour
        args = tuple(v for v in (string_value(a.value) for a in node.args[:1]) if v is not None)
        sql = sql_arguments(ctx, node)
        ctx.facts.calls.append(Call(ref, ctx.line, ctx.function, tuple(ctx.blocks), args, sql))

    def _connect(self, node: cst.Call, ref: str) -> None:
        ctx = self.ctx
        signal = ref[: -len(".connect")]
        receiver = ctx.resolve(node.args[0].value)
        sender = None
        for arg in node.args[1:]:
            if arg.keyword is not None and arg.keyword.value == "sender":
                sender = model_target(ctx, arg.value)
        function = receiver[2:] if receiver and receiver.startswith("q:") else None
        ctx.facts.receivers.append(Receiver((signal,), sender, function, ctx.line))

    def _ninja_mount(self, node: cst.Call, api: str) -> None:
        """``api.add_router("/items", router)`` or ``api.add_router("/items", "app.api.router")``."""
        prefix = string_value(node.args[0].value)
        target = node.args[1].value
        text = string_value(target)
        router = f"m:{text}" if text is not None else self.ctx.resolve(target)
        if prefix is not None and router is not None and router.startswith(("q:", "m:")):
            self.ctx.facts.ninja_mounts.append(NinjaMount(api, prefix, router, self.ctx.line))
