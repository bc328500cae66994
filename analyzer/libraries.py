"""Abstract models of installed libraries, read from their source so that a project's model
inherits the relations declared on them (django-taggit's ``TaggedItemBase``, django-treenode's
``TreeNodeModel``, django-mptt's ``MPTTModel``).

Nothing is imported: a base's top-level package is looked up in the ``--site-packages``
folders, then in the running environment with ``importlib.util.find_spec`` (which, for a
top-level name, only locates it), and only the modules that define the bases are read, with
the same extractor as the project's files (and so through the same fact cache). Their facts
go to linking marked as library facts (analyzer/link/index.py), so their models are external
and their code adds no edges. A base that cannot be found is one warning naming its package.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path

from analyzer.facts import FileFacts, Warning_
from analyzer.link.index import LIBRARY_PREFIX, CodeIndex
from analyzer.link.models import external_model_base

# (module name, file, is_package) -> facts; the pipeline passes one that uses its cache
Reader = Callable[[str, Path, bool], FileFacts]
MAX_MODULES = 60  # libraries read per analysis; a base chain longer than this stays unknown
_OWN = ("django",)  # Django's own bases are known to linking (analyzer/link/models.py)


class LibrarySource:
    """Finds the source file of a library module, in given folders or the environment."""

    def __init__(self, folders: Iterable[Path], use_environment: bool = True) -> None:
        self.folders = [Path(f) for f in folders]
        self.use_environment = use_environment
        self._roots: dict[str, list[Path]] = {}

    def _package_roots(self, top: str) -> list[Path]:
        """Folders that hold top-level package ``top`` (or its single-file module)."""
        if top in self._roots:
            return self._roots[top]
        roots = [f for f in self.folders if (f / top).is_dir() or (f / f"{top}.py").is_file()]
        if not roots and self.use_environment and top.isidentifier():
            try:
                spec = importlib.util.find_spec(top)  # a top-level name: located, not imported
            except (ImportError, ValueError, AttributeError):
                spec = None
            if spec is not None:
                for location in spec.submodule_search_locations or ():
                    roots.append(Path(location).parent)
                if not roots and spec.origin and spec.origin.endswith(".py"):
                    roots.append(Path(spec.origin).parent)
        self._roots[top] = roots
        return roots

    def find(self, module: str) -> tuple[Path, Path, bool] | None:
        """(site folder, file, is_package) of ``module``, or None."""
        parts = module.split(".")
        for root in self._package_roots(parts[0]):
            base = root.joinpath(*parts)
            for file, is_package in (
                (base / "__init__.py", True),
                (base.with_suffix(".py"), False),
            ):
                if file.is_file():
                    return root, file, is_package
        return None

    def has_package(self, top: str) -> bool:
        return bool(self._package_roots(top))


def library_facts(
    files: list[FileFacts], source: LibrarySource, read: Reader
) -> tuple[list[FileFacts], list[Warning_]]:
    """Facts of the library modules that define the project's external model bases (and
    their bases in turn), and one warning per base that cannot be read."""
    project_index = CodeIndex(files)
    # base qualname -> where the project first names it (file, line)
    pending: dict[str, tuple[str, int]] = {}
    for facts in files:
        for cls in facts.classes:
            for base in cls.bases:
                if not base.startswith("q:"):
                    continue
                name = project_index.resolve(base[2:])
                if name not in project_index.classes and _wanted(name):
                    pending.setdefault(name, (facts.path, cls.line))
    read_modules: dict[str, FileFacts] = {}
    # each name to look at carries the base the project named, so a hit anywhere along its
    # re-exports counts for that base
    queue = [(name, name, where) for name, where in pending.items()]
    wanted_where = dict(pending)
    found: set[str] = set()
    done: set[str] = set()
    while queue:
        name, origin, where = queue.pop()
        if name in done:
            continue
        done.add(name)
        module = _read_module_of(name, source, read, read_modules)
        if module is None:
            continue
        index = CodeIndex(list(read_modules.values()))  # library names resolve among libraries
        resolved = index.resolve(name)
        if resolved not in index.classes:
            if resolved != name:  # re-exported: read where it is defined
                queue.append((resolved, origin, where))
            tail = name[len(module.module) + 1 :]
            queue.extend((f"{star}.{tail}", origin, where) for star in module.star_imports)
            continue
        found.add(origin)
        for base in index.classes[resolved].bases:
            if base.startswith("q:"):
                base_name = index.resolve(base[2:])
                if base_name not in index.classes and _wanted(base_name, any_module=True):
                    queue.append((base_name, base_name, where))
                    if external_model_base(base_name):
                        wanted_where.setdefault(base_name, where)
    missing = {name: where for name, where in wanted_where.items() if name not in found}
    warnings = [
        Warning_(file, _unknown_base(name, source), line)
        for name, (file, line) in sorted(missing.items())
        if external_model_base(name)
    ]
    return list(read_modules.values()), warnings


def _unknown_base(name: str, source: LibrarySource) -> str:
    package = name.split(".")[0]
    if source.has_package(package):
        return (
            f"fields of abstract base {name} (package {package}) are unknown: {package} is "
            "installed but its source does not define the class statically"
        )
    return (
        f"fields of abstract base {name} (package {package}) are unknown; pass "
        f"--site-packages DIR of an environment that has {package}"
    )


def _wanted(name: str, any_module: bool = False) -> bool:
    """A base worth reading: a model class of a library (or, up a library's chain, any class
    of it, such as a mixin in ``taggit.managers``)."""
    top = name.split(".")[0]
    if top in _OWN or "." not in name or not top.isidentifier():
        return False
    return any_module or external_model_base(name)


def _read_module_of(
    name: str, source: LibrarySource, read: Reader, read_modules: dict[str, FileFacts]
) -> FileFacts | None:
    """Read the longest module prefix of ``name`` that exists (``taggit.models`` for
    ``taggit.models.TaggedItemBase``); None when no prefix is found."""
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        if module in read_modules:
            return read_modules[module]
        if len(read_modules) >= MAX_MODULES:
            return None
        found = source.find(module)
        if found is None:
            continue
        root, file, is_package = found
        facts = read(module, file, is_package)
        rel = file.relative_to(root).as_posix()
        library = FileFacts(path=f"{LIBRARY_PREFIX}{rel}", module=module)
        library.exports, library.star_imports = facts.exports, facts.star_imports
        library.classes = facts.classes  # only what linking models needs; no edges, no warnings
        read_modules[module] = library
        return library
    return None
