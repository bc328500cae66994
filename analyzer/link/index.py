"""An index over every file's facts: modules, classes, functions, and re-exports, so a
qualified name written one way (``shop.models.Order`` re-exported from
``shop.models.order``) resolves to where it is defined."""

from __future__ import annotations

from analyzer.facts import ClassDef, FileFacts, Function


class CodeIndex:
    def __init__(self, files: list[FileFacts]) -> None:
        self.files = files
        self.modules: dict[str, FileFacts] = {f.module: f for f in files}
        self.classes: dict[str, ClassDef] = {}
        self.class_module: dict[str, str] = {}
        self.functions: dict[str, Function] = {}
        self.function_module: dict[str, str] = {}
        for facts in files:
            for cls in facts.classes:
                self.classes[cls.qualname] = cls
                self.class_module[cls.qualname] = facts.module
            for function in facts.functions:
                self.functions[function.qualname] = function
                self.function_module[function.qualname] = facts.module
        self._cache: dict[str, str] = {}

    def module_of(self, qualname: str) -> str | None:
        """The longest known module that is a prefix of ``qualname``."""
        parts = qualname.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    def resolve(self, qualname: str) -> str:
        """Follow re-exports to the definition; unknown names come back unchanged."""
        found = self._cache.get(qualname)
        if found is None:
            found = self._cache[qualname] = self._resolve(qualname, 0)
        return found

    def _resolve(self, qualname: str, depth: int) -> str:
        if qualname in self.classes or qualname in self.functions or qualname in self.modules:
            return qualname
        if depth > 10:
            return qualname
        module = self.module_of(qualname)
        if module is None:
            return qualname
        rest = qualname[len(module) + 1 :].split(".")
        head, tail = rest[0], rest[1:]
        facts = self.modules[module]
        # a class's attribute or method: Order.objects, Order.mark_paid
        for cut in range(len(rest), 0, -1):
            candidate = ".".join([module, *rest[:cut]])
            if candidate in self.classes or candidate in self.functions:
                return ".".join([candidate, *rest[cut:]])
        exported = facts.exports.get(head)
        if exported is not None and exported != qualname:
            return self._resolve(".".join([exported, *tail]), depth + 1)
        for star in facts.star_imports:
            candidate = self._resolve(".".join([star, *rest]), depth + 1)
            if candidate != ".".join([star, *rest]) or candidate in self.classes:
                return candidate
        return qualname
