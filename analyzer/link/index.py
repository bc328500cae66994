"""An index over every file's facts: modules, classes, functions, and re-exports, so a
qualified name written one way (``shop.models.Order`` re-exported from
``shop.models.order``) resolves to where it is defined.

Facts whose path starts with ``LIBRARY_PREFIX`` come from an installed library
(analyzer/libraries.py): their classes resolve like the project's, but they are not among
``files`` or ``modules``, so nothing counts them as the project's code."""

from __future__ import annotations

from analyzer.facts import ClassDef, FileFacts, Function

LIBRARY_PREFIX = "<library>/"


class CodeIndex:
    def __init__(self, files: list[FileFacts]) -> None:
        self.files = [f for f in files if not f.path.startswith(LIBRARY_PREFIX)]
        self.library: dict[str, FileFacts] = {
            f.module: f for f in files if f.path.startswith(LIBRARY_PREFIX)
        }
        self.modules: dict[str, FileFacts] = {f.module: f for f in self.files}
        self.classes: dict[str, ClassDef] = {}
        self.class_module: dict[str, str] = {}
        self.functions: dict[str, Function] = {}
        self.function_module: dict[str, str] = {}
        self.library_classes: set[str] = set()
        for facts in self.library.values():
            for cls in facts.classes:
                self.classes[cls.qualname] = cls
                self.class_module[cls.qualname] = facts.module
                self.library_classes.add(cls.qualname)
        for facts in self.files:
            for cls in facts.classes:
                self.classes[cls.qualname] = cls
                self.class_module[cls.qualname] = facts.module
                self.library_classes.discard(cls.qualname)
            for function in facts.functions:
                self.functions[function.qualname] = function
                self.function_module[function.qualname] = facts.module
        self._cache: dict[str, str] = {}

    def module_of(self, qualname: str) -> str | None:
        """The longest known module that is a prefix of ``qualname``."""
        parts = qualname.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules or candidate in self.library:
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
        if qualname in self.library:
            return qualname
        if depth > 10:
            return qualname
        module = self.module_of(qualname)
        if module is None:
            return qualname
        rest = qualname[len(module) + 1 :].split(".")
        head, tail = rest[0], rest[1:]
        facts = self.modules.get(module) or self.library[module]
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

    def facts_of_class(self, qualname: str) -> FileFacts:
        """The facts of the file (the project's or a library's) that defines a class."""
        module = self.class_module[qualname]
        return self.modules.get(module) or self.library[module]
