"""Classes and functions: models with their Meta and relations, views, DRF actions, Celery
tasks, signal receivers, and functions that wrap ``transaction.atomic``."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from analyzer.extract.context import Context, dotted, string_value
from analyzer.extract.drf_classes import add_extra_mapping, route_templates, view_action
from analyzer.facts import (
    USER_MODEL,
    ClassDef,
    Function,
    NinjaOperation,
    Receiver,
    Ref,
    Relation,
    RouteTemplate,
    ViewAction,
    ViewRegistration,
)

RELATION_SUFFIXES = ("ForeignKey", "OneToOneField", "ManyToManyField", "ParentalKey")
TAG_MANAGERS = ("TaggableManager", "TaggableManagerField")  # django-taggit: an m2m to tags
GENERIC_RELATIONS = ("GenericForeignKey", "GenericRelation")
_META_KEYS = ("db_table", "abstract", "proxy", "app_label", "managed")
_NINJA_VERBS = frozenset({"get", "post", "put", "patch", "delete"})
_HTTP_DECORATORS = {
    "require_GET": ("GET",),
    "require_POST": ("POST",),
    "require_safe": ("GET", "HEAD"),
}
_USER_MODEL_SETTING = "django.conf.settings.AUTH_USER_MODEL"


def model_target(ctx: Context, node: cst.BaseExpression) -> Ref | None:
    """A relation's target as written: a string, a class, or the user model setting."""
    text = string_value(node)
    if text is not None:
        return f"s:{text}"
    if isinstance(node, cst.Call):
        name = dotted(node.func) or ""
        if name.rsplit(".", 1)[-1] in ("get_model_name", "get_model"):
            # swappable models: swapper.get_model_name("wagtailcore", "Page")
            return ctx.get_model_ref(node)
    binding = ctx.resolve(node)
    if binding == f"q:{_USER_MODEL_SETTING}" or binding == USER_MODEL:
        return USER_MODEL
    if binding is not None and binding.endswith(".AUTH_USER_MODEL"):
        return USER_MODEL  # reusable apps re-export it: `from oscar.core.compat import AUTH_USER_MODEL`
    if binding is not None and binding.startswith(("q:", "s:")):
        return binding
    written = dotted(node)
    if written is not None and written.endswith("AUTH_USER_MODEL"):
        return USER_MODEL
    return None


def _literal(node: cst.BaseExpression) -> object:
    text = string_value(node)
    if text is not None:
        return text
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.List | cst.Tuple):
        values = [_literal(e.value) for e in node.elements]
        return [v for v in values if isinstance(v, str)]
    return ...


def _on_delete(ctx: Context, call: cst.Call) -> str | None:
    """What a relation does when its target is deleted, by its last name: ``models.SET_NULL``
    -> SET_NULL, ``SET(sentinel)`` -> SET; positional after ``to`` as Django allows."""
    node = _keyword(call, "on_delete")
    if node is None:
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        at = 0 if _keyword(call, "to") is not None else 1
        node = positional[at] if len(positional) > at else None
    if isinstance(node, cst.Call):
        node = node.func
    name = (ctx.qualname(node) or dotted(node)) if node is not None else None
    return name.rsplit(".", 1)[-1] if name else None


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _class_body_assignments(node: cst.ClassDef):
    for stmt in node.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Name):
                        yield target.value, small.value
                elif (
                    isinstance(small, cst.AnnAssign)
                    and small.value is not None
                    and isinstance(small.target, cst.Name)
                ):
                    yield small.target.value, small.value


@dataclass
class _FunctionBuilder:
    qualname: str
    line: int
    decorators: tuple[Ref, ...]
    http_methods: tuple[str, ...]
    task_name: str | None
    returns: list[Ref] = field(default_factory=list)
    yields_in: list[int] = field(default_factory=list)


@dataclass
class _ClassBuilder:
    qualname: str
    name: str
    line: int
    bases: tuple[Ref, ...]
    meta: dict[str, object]
    function: str | None
    relations: list[Relation] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    actions: list[ViewAction] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
    route_templates: tuple[RouteTemplate, ...] = ()


class Definitions:
    """Records ClassDef and Function facts, and receivers declared with ``@receiver``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._stack: list[_ClassBuilder | _FunctionBuilder] = []

    # -- classes ---------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        bases: list[Ref] = []
        for arg in node.bases:
            base = arg.value
            if isinstance(base, cst.Subscript):  # ModelViewSet[Document]: the generic itself
                base = base.value
            ref = ctx.resolve(base)
            bases.append(ref if ref is not None and ref.startswith("q:") else "?")
        meta: dict[str, object] = {}
        for stmt in node.body.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Meta":
                for key, value in _class_body_assignments(stmt):
                    if key in _META_KEYS:
                        literal = _literal(value)
                        if literal is not ...:
                            meta[key] = literal
        self._stack.append(
            _ClassBuilder(
                ctx.classes[-1], node.name.value, ctx.line, tuple(bases), meta, ctx.function
            )
        )
        for decorator in node.decorators:
            self._model_view(decorator.decorator, ctx.classes[-1])

    def _model_view(self, expr: cst.BaseExpression, view: str) -> None:
        """``@register_model_view(Model, "name", path=..., detail=...)`` (netbox and its plugins)."""
        if (
            not isinstance(expr, cst.Call)
            or (dotted(expr.func) or "").rsplit(".", 1)[-1] != "register_model_view"
        ):
            return
        positional = [a.value for a in expr.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
        model_node = positional[0] if positional else keywords.get("model")
        model = self.ctx.model_ref(model_node) if model_node is not None else None
        if model is None:
            return
        name_node = positional[1] if len(positional) > 1 else keywords.get("name")
        name = (string_value(name_node) if name_node is not None else "") or ""
        path_node = positional[2] if len(positional) > 2 else keywords.get("path")
        path = string_value(path_node) if path_node is not None else None
        detail_node = positional[3] if len(positional) > 3 else keywords.get("detail")
        detail = _literal(detail_node) is not False if detail_node is not None else True
        self.ctx.facts.view_registrations.append(
            ViewRegistration(
                model, name, name if path is None else path, detail, view, self.ctx.line
            )
        )

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        built = self._stack.pop()
        assert isinstance(built, _ClassBuilder)
        parent = self._stack[-1] if self._stack else None
        if built.name == "Meta" and isinstance(parent, _ClassBuilder):
            return  # read with its model
        self.ctx.facts.classes.append(
            ClassDef(
                qualname=built.qualname,
                name=built.name,
                line=built.line,
                bases=built.bases,
                meta=built.meta,
                relations=tuple(built.relations),
                attributes=built.attributes,
                methods=tuple(built.methods),
                actions=tuple(built.actions),
                function=built.function,
                flags=built.flags,
                route_templates=built.route_templates,
            )
        )

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self._class_attribute(node.targets[0].target.value, node.value)
        elif len(node.targets) == 1:
            self._instance_attribute(node.targets[0].target, node.value)

    def _instance_attribute(self, target: cst.BaseAssignTargetExpression, value) -> None:
        """``self.trailing_slash = "/?"`` in a method: a router's own URL ending."""
        if (
            not isinstance(target, cst.Attribute)
            or target.attr.value != "trailing_slash"
            or not isinstance(target.value, cst.Name)
            or target.value.value != "self"
            or len(self._stack) < 2
            or not isinstance(self._stack[-2], _ClassBuilder)
        ):
            return
        literal = _literal(value)
        if isinstance(literal, str):
            self._stack[-2].attributes["trailing_slash"] = literal

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, cst.Name):
            self._class_attribute(node.target.value, node.value)

    def _class_attribute(self, name: str, value: cst.BaseExpression) -> None:
        if not self.ctx.in_class_body or not self._stack:
            return
        builder = self._stack[-1]
        if not isinstance(builder, _ClassBuilder):
            return
        text = string_value(value)
        literal = _literal(value) if isinstance(value, cst.Name) else ...
        if text is not None:
            builder.attributes[name] = text
        elif isinstance(literal, bool):
            builder.flags[name] = literal
        elif name == "routes" and isinstance(value, cst.List | cst.Tuple):
            builder.route_templates = route_templates(value)
        elif isinstance(value, cst.Call):
            relation = self._relation(name, value)
            if relation is not None:
                builder.relations.append(relation)

    def _relation(self, name: str, call: cst.Call) -> Relation | None:
        ctx = self.ctx
        field_class = ctx.qualname(call.func) or dotted(call.func)
        if field_class is None:
            return None
        last = field_class.rsplit(".", 1)[-1]
        if last.endswith(GENERIC_RELATIONS):
            target = None
            if last.endswith("GenericRelation") and call.args:
                target = model_target(ctx, call.args[0].value)
            return Relation(name, field_class, target, ctx.line)
        if last.endswith(TAG_MANAGERS):
            through = _keyword(call, "through")
            through_ref = model_target(ctx, through) if through is not None else None
            return Relation(name, field_class, "s:taggit.Tag", ctx.line, through=through_ref)
        if not last.endswith(RELATION_SUFFIXES):
            return None
        target_node = _keyword(call, "to")
        if target_node is None:
            positional = [a for a in call.args if a.keyword is None and not a.star]
            target_node = positional[0].value if positional else None
        target = model_target(ctx, target_node) if target_node is not None else None
        through = _keyword(call, "through")
        related = _keyword(call, "related_name")
        related_query = _keyword(call, "related_query_name")
        return Relation(
            name,
            field_class,
            target,
            ctx.line,
            string_value(related) if related is not None else None,
            string_value(related_query) if related_query is not None else None,
            model_target(ctx, through) if through is not None else None,
            _on_delete(ctx, call),
        )

    # -- functions -------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        owner = self._stack[-1] if self._stack else None
        if (
            isinstance(owner, _ClassBuilder)
            and ctx.functions[-1] == f"{owner.qualname}.{node.name.value}"
        ):
            owner.methods.append(node.name.value)
            action = view_action(ctx, node)
            if action is not None:
                owner.actions.append(action)
            add_extra_mapping(node, owner.actions)
        decorators: list[Ref] = []
        http: tuple[str, ...] = ()
        task_name: str | None = None
        for decorator in node.decorators:
            expr = decorator.decorator
            call = expr if isinstance(expr, cst.Call) else None
            target = call.func if call is not None else expr
            qualname = ctx.qualname(target)
            name = qualname or dotted(target) or ""
            last = name.rsplit(".", 1)[-1]
            decorators.append(f"q:{qualname}" if qualname else f"?:{name}")
            if last in _HTTP_DECORATORS:
                http = _HTTP_DECORATORS[last]
            elif last in ("require_http_methods", "api_view") and call is not None and call.args:
                value = _literal(call.args[0].value)
                if isinstance(value, list):
                    http = tuple(m.upper() for m in value)
            elif last in ("shared_task", "task", "periodic_task"):
                task_name = ctx.functions[-1]
                if call is not None:
                    named = _keyword(call, "name")
                    if named is not None and string_value(named):
                        task_name = string_value(named)
            elif last == "receiver" and call is not None and call.args:
                self._receiver(call, ctx.functions[-1])
            elif (
                qualname and call is not None and (last in _NINJA_VERBS or last == "api_operation")
            ):
                self._ninja_operation(call, qualname, last)
        self._stack.append(
            _FunctionBuilder(ctx.functions[-1], ctx.line, tuple(decorators), http, task_name)
        )

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        built = self._stack.pop()
        assert isinstance(built, _FunctionBuilder)
        self.ctx.facts.functions.append(
            Function(
                qualname=built.qualname,
                line=built.line,
                decorators=built.decorators,
                http_methods=built.http_methods,
                task_name=built.task_name,
                returns=tuple(built.returns),
                yields_in=tuple(built.yields_in),
            )
        )

    def _current_function(self) -> _FunctionBuilder | None:
        top = self._stack[-1] if self._stack else None
        return top if isinstance(top, _FunctionBuilder) else None

    def visit_Return(self, node: cst.Return) -> None:
        function = self._current_function()
        if function is not None and isinstance(node.value, cst.Call):
            ref = self.ctx.resolve(node.value.func)
            if ref is not None and ref.startswith("q:"):
                function.returns.append(ref)

    def visit_Yield(self, node: cst.Yield) -> None:
        function = self._current_function()
        if function is not None and self.ctx.blocks:
            function.yields_in.extend(self.ctx.blocks)

    def _ninja_operation(self, call: cst.Call, qualname: str, verb: str) -> None:
        """``@router.get("/path")`` / ``@api.api_operation(["PUT", "PATCH"], "/path")``; the linker
        keeps only those whose owner is a NinjaAPI or Router."""
        positional = [a.value for a in call.args if a.keyword is None]
        path_node = _keyword(call, "path")
        if verb == "api_operation":
            methods = (
                _literal(positional[0])
                if positional
                else _literal(_keyword(call, "methods") or cst.List([]))
            )
            path_node = path_node or (positional[1] if len(positional) > 1 else None)
            if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
                return
            verbs = tuple(m.upper() for m in methods)
        else:
            path_node = path_node or (positional[0] if positional else None)
            verbs = (verb.upper(),)
        path = string_value(path_node) if path_node is not None else None
        if path is not None:
            self.ctx.facts.ninja_operations.append(
                NinjaOperation(
                    qualname.rsplit(".", 1)[0], verbs, path, self.ctx.functions[-1], self.ctx.line
                )
            )

    def _receiver(self, call: cst.Call, function: str) -> None:
        ctx = self.ctx
        first = call.args[0].value
        items = (
            [e.value for e in first.elements]
            if isinstance(first, cst.List | cst.Tuple)
            else [first]
        )
        signals = tuple(r for r in (ctx.resolve(i) for i in items) if r and r.startswith("q:"))
        sender_node = _keyword(call, "sender")
        sender = model_target(ctx, sender_node) if sender_node is not None else None
        if signals:
            ctx.facts.receivers.append(Receiver(signals, sender, function, ctx.line))
