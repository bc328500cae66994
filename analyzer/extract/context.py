"""Where the walk is and what names mean there: the light scope tracking every collector shares.

Instead of libcst's ScopeProvider and QualifiedNameProvider (about 7x slower than the parse),
names are resolved through a stack of dicts: the module's imports and definitions (bound
before the walk, so a function may use a name imported below it), then one dict per
enclosing function for its own imports, parameters and simple assignments. That is enough
for how Django code names models, managers, signals and tasks; dynamic tricks stay
unresolved rather than guessed.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from typing import Any

import libcst as cst

from analyzer.facts import USER_MODEL, FileFacts, Ref

# What a name can stand for in a scope.
#   "q:<qualname>"   a module, class or function
#   "i:<ref>"        an instance of the model <ref>
#   "t:<text>"       a string constant (for raw SQL kept in variables)
#   "user"           the user model class (get_user_model())
#   "s:app.Model"    a model class fetched with apps.get_model("app", "Model")
Binding = str

USER_MODEL_FUNCS = {
    "django.contrib.auth.get_user_model",
    "django.contrib.auth.models.get_user_model",
}
GET_MODEL_FUNCS = {"django.apps.apps.get_model", "django.apps.registry.apps.get_model"}
INSTANCE_GETTERS = {
    "get", "create", "first", "last", "earliest", "latest", "get_or_create",
    "update_or_create", "aget", "acreate", "afirst", "alast", "aget_or_create",
    "aupdate_or_create",
}  # fmt: skip
SHORTCUT_GETTERS = {"django.shortcuts.get_object_or_404", "django.shortcuts.aget_object_or_404"}


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` as a string, or None when the expression is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The value of a plain or implicitly concatenated string literal, else None (also for
    an escape that Python itself would refuse, such as a truncated ``\\x``)."""
    value = literal_value(node) if node is not None else UNKNOWN
    return value if isinstance(value, str) else None


UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()
_CONSTANTS = {"True": True, "False": False, "None": None}
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError)


def literal_value(
    node: cst.BaseExpression,
    evaluate: Callable[[cst.BaseExpression], object] | None = None,
) -> object:
    """The value of any literal Python allows, or UNKNOWN: numbers in every spelling
    (``0o644``, ``0x1F``, ``0b101``, ``1_000``, ``1e3``, ``1j``, ``-1``), strings and bytes
    (implicitly concatenated, prefixed), f-strings whose parts are known, ``True``/``None``,
    and lists, tuples, sets and dicts of those. ``evaluate`` reads the parts (so a caller
    that knows names can pass its own); it defaults to this function."""
    part = evaluate or literal_value
    try:
        if isinstance(node, cst.SimpleString | cst.Integer | cst.Float | cst.Imaginary):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "invalid escape sequence" is not our business
                return ast.literal_eval(node.value)
        if isinstance(node, cst.ConcatenatedString):
            left, right = part(node.left), part(node.right)
            if type(left) is type(right) and isinstance(left, str | bytes):
                return left + right  # type: ignore[operator]
            return UNKNOWN
        if isinstance(node, cst.FormattedString):
            return _formatted(node, part)
        if isinstance(node, cst.Name):
            return _CONSTANTS.get(node.value, UNKNOWN)
        if isinstance(node, cst.UnaryOperation):
            value = part(node.expression)
            if not isinstance(value, int | float | complex) or isinstance(value, bool):
                return UNKNOWN
            if isinstance(node.operator, cst.Minus):
                return -value
            return value if isinstance(node.operator, cst.Plus) else UNKNOWN
        if isinstance(node, cst.List | cst.Tuple | cst.Set):
            items: list[object] = []
            for element in node.elements:
                value = part(element.value)
                if value is UNKNOWN:
                    return UNKNOWN
                if isinstance(element, cst.StarredElement):
                    if not isinstance(value, list | tuple | set | str):
                        return UNKNOWN
                    items.extend(value)
                else:
                    items.append(value)
            kind = {cst.List: list, cst.Tuple: tuple, cst.Set: set}[type(node)]
            return kind(items)
        if isinstance(node, cst.Dict):
            out = {}
            for item in node.elements:
                if isinstance(item, cst.StarredDictElement):
                    inner = part(item.value)
                    if not isinstance(inner, dict):
                        return UNKNOWN
                    out.update(inner)
                    continue
                assert isinstance(item, cst.DictElement)
                key, value = part(item.key), part(item.value)
                if key is UNKNOWN or value is UNKNOWN:
                    return UNKNOWN
                out[key] = value
            return out
    except _LITERAL_ERRORS:
        return UNKNOWN
    return UNKNOWN


def _formatted(node: cst.FormattedString, part: Callable[[cst.BaseExpression], object]) -> object:
    """An f-string whose every placeholder is a known plain value, else UNKNOWN."""
    prefix = node.prefix.lower().replace("f", "")
    if "b" in prefix:
        return UNKNOWN
    out = []
    for piece in node.parts:
        if isinstance(piece, cst.FormattedStringText):
            source = f"{prefix}{node.end}{piece.value}{node.end}"  # the text in its own quotes
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                text = ast.literal_eval(source)
            out.append(text.replace("{{", "{").replace("}}", "}"))
            continue
        assert isinstance(piece, cst.FormattedStringExpression)
        if piece.format_spec is not None or piece.conversion is not None:
            return UNKNOWN
        value = part(piece.expression)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return UNKNOWN
        out.append(str(value))
    return "".join(out)


class Context:
    """Tracks module, classes, functions, with-blocks and name bindings during the walk."""

    def __init__(self, facts: FileFacts, is_package: bool) -> None:
        self.facts = facts
        self.module = facts.module
        self.package = facts.module if is_package else facts.module.rpartition(".")[0]
        self.walker_line = lambda: 0  # replaced by the extractor with the walker's line
        self.module_scope: dict[str, Binding] = {}
        self.scopes: list[dict[str, Binding]] = [self.module_scope]
        self.classes: list[str] = []  # qualified names of enclosing classes
        self.functions: list[str] = []  # qualified names of enclosing functions
        self.params: list[list[str]] = []  # parameter names of enclosing functions
        self.blocks: list[int] = []  # ids of enclosing with-blocks
        self.star_imports = False  # names it cannot see may come from `from x import *`
        self.conditional = 0  # depth of if/try blocks: a module constant set there is optional
        self._block_ids = 0
        self._owner: list[str] = []  # "class" / "function", innermost last

    # -- where we are -------------------------------------------------------------------
    @property
    def line(self) -> int:
        return self.walker_line()

    @property
    def function(self) -> str | None:
        return self.functions[-1] if self.functions else None

    @property
    def at_module_level(self) -> bool:
        return not self._owner

    @property
    def in_class_body(self) -> bool:
        return bool(self._owner) and self._owner[-1] == "class"

    def qualify(self, name: str) -> str:
        """The qualified name a definition named ``name`` gets here."""
        if self._owner and self._owner[-1] == "class":
            return f"{self.classes[-1]}.{name}"
        if self.functions:
            return f"{self.functions[-1]}.<locals>.{name}"
        return f"{self.module}.{name}"

    def new_block(self) -> int:
        self._block_ids += 1
        return self._block_ids

    # -- names --------------------------------------------------------------------------
    def bind(self, name: str, binding: Binding) -> None:
        self.scopes[-1][name] = binding

    def lookup(self, name: str) -> Binding | None:
        for scope in reversed(self.scopes):
            found = scope.get(name)
            if found is not None:
                return found
        if self.star_imports and name[:1].isupper():
            # a class from `from .features import *`: the module re-exports it, and linking
            # follows the star import to where it is defined
            return f"q:{self.module}.{name}"
        return None

    def resolve(self, node: cst.BaseExpression) -> Binding | None:
        """What an expression names: a qualified name, a model instance, a string constant."""
        if isinstance(node, cst.Name):
            return self.lookup(node.value)
        if isinstance(node, cst.Attribute):
            base = self.resolve(node.value)
            if base is not None and base.startswith("q:"):
                return f"{base}.{node.attr.value}"
            return None
        if isinstance(node, cst.Call):
            return self.call_result(node)
        return None

    def qualname(self, node: cst.BaseExpression) -> str | None:
        """The qualified name (without prefix) of a dotted expression, if it resolves to one."""
        binding = self.resolve(node)
        if binding is not None and binding.startswith("q:"):
            return binding[2:]
        return None

    def call_result(self, call: cst.Call) -> Binding | None:
        """What a call returns, as far as model classes and instances go."""
        func = self.qualname(call.func)
        if func in USER_MODEL_FUNCS:
            return USER_MODEL
        if func is not None and (func in GET_MODEL_FUNCS or func.endswith(".get_model")):
            return self.get_model_ref(call)
        if func in SHORTCUT_GETTERS and call.args:
            model = self.model_ref(call.args[0].value)
            return f"i:{model}" if model else None
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in INSTANCE_GETTERS:
            root = self.chain_root(call.func.value)
            if root is not None:
                _, binding = root
                if not binding.startswith("i:"):
                    return f"i:{binding}"
            return None
        if func is not None and func[func.rfind(".") + 1 :][:1].isupper():
            return f"i:q:{func}"
        return None

    def chain_root(self, node: cst.BaseExpression) -> tuple[int, Binding] | None:
        """Where a chain like ``bm.Invoice.objects.filter(...)`` starts: (index, binding).

        The root is the first link naming a model instance, a string or user model, or else
        the last capitalised name in a run of qualified names (``bm`` -> ``bm.Invoice``).
        """
        chain = unchain(node)
        root: tuple[int, Binding] | None = None
        for index, link in enumerate(chain):
            if isinstance(link, cst.Call):
                if index == 0 or root is not None:
                    break
                binding = self.call_result(link)
                if binding is not None and binding[:2] in ("s:", "i:") or binding == USER_MODEL:
                    return index, binding
                break
            binding = self.resolve(link)
            if binding is None:
                break
            if binding[:2] in ("i:", "s:") or binding == USER_MODEL:
                return index, binding
            if binding.startswith("q:"):
                last = binding[binding.rfind(".") + 1 :]
                if last[:1].isupper():
                    root = (index, binding)
                elif root is not None:
                    break
            else:
                break
        return root

    def get_model_ref(self, call: cst.Call) -> Binding | None:
        """``apps.get_model("app", "Model")`` or ``apps.get_model("app.Model")`` as a string ref."""
        values = [string_value(a.value) for a in call.args if a.keyword is None]
        if len(values) >= 2 and values[0] and values[1]:
            return f"s:{values[0]}.{values[1]}"
        if len(values) == 1 and values[0] and "." in values[0]:
            return f"s:{values[0]}"
        return None

    def model_ref(self, node: cst.BaseExpression) -> Ref | None:
        """The model class an expression names, as a Ref (not an instance)."""
        binding = self.resolve(node)
        if binding is None:
            return None
        if binding.startswith("q:") or binding.startswith("s:") or binding == USER_MODEL:
            return binding
        return None

    # -- entering and leaving -----------------------------------------------------------
    def enter_class(self, name: str) -> str:
        qualname = self.qualify(name)
        self.classes.append(qualname)
        self._owner.append("class")
        return qualname

    def leave_class(self) -> None:
        self.classes.pop()
        self._owner.pop()

    def enter_function(self, name: str, params: cst.Parameters) -> str:
        qualname = self.qualify(name)
        owner_class = self.classes[-1] if self.in_class_body else None
        self.functions.append(qualname)
        self._owner.append("function")
        scope: dict[str, Binding] = {}
        all_params = [*params.posonly_params, *params.params, *params.kwonly_params]
        self.params.append([p.name.value for p in all_params])
        for index, param in enumerate(all_params):
            if index == 0 and owner_class is not None and param.name.value in ("self", "cls"):
                kind = "i:" if param.name.value == "self" else ""
                scope[param.name.value] = f"{kind}q:{owner_class}"
                continue
            if param.annotation is not None:
                annotation = param.annotation.annotation
                if isinstance(annotation, cst.SimpleString):
                    text = string_value(annotation)
                    ref = self.lookup(text) if text and text.isidentifier() else None
                else:
                    ref = self.model_ref(annotation)
                if ref is not None and ref.startswith("q:"):
                    scope[param.name.value] = f"i:{ref}"
        self.scopes.append(scope)
        return qualname

    def leave_function(self) -> None:
        self.params.pop()
        self.functions.pop()
        self._owner.pop()
        self.scopes.pop()


def unchain(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The links of an attribute/call chain from its root outwards; each wraps the one before."""
    chain: list[cst.BaseExpression] = []
    while True:
        chain.append(node)
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Attribute):
            node = node.value
        else:
            break
    chain.reverse()
    return chain
