"""Discovery: find the project's files, its settings, root urlconf and installed apps.

The only stage besides the report writer that touches the filesystem. It never imports the
project: settings are read as code (analyzer/settings_reader.py).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from analyzer.errors import ProjectNotFound
from analyzer.facts import Warning_
from analyzer.settings_reader import read_settings

# Folders never worth reading: VCS, caches, virtualenvs, dependencies, build output.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", "env", ".env",
     ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", "build",
     "dist", ".eggs", "figkit-report"}
)  # fmt: skip
# Left out unless --include brings them back: they describe the past or the tests, not the
# coupling of the running code.
DEFAULT_EXCLUDES = (
    "*/migrations/*", "migrations/*", "*/tests/*", "tests/*", "*/test/*", "test/*",
    "*/test_*.py", "test_*.py", "*/tests.py", "tests.py", "*_tests.py", "*/conftest.py",
    "conftest.py",
)  # fmt: skip
MAX_FILE_BYTES = 2_000_000  # generated data modules bigger than this are skipped with a warning
_SETTINGS_ENV = re.compile(rb"DJANGO_SETTINGS_MODULE[\"']\s*,\s*[\"']([\w.]+)[\"']")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative to the analysed root, forward slashes
    module: str
    is_package: bool
    size: int


@dataclass
class Project:
    root: Path
    source_root: Path  # the folder that is on sys.path when the project runs
    files: list[SourceFile]
    settings_module: str | None = None
    settings_files: list[str] = field(default_factory=list)
    root_urlconf: str | None = None
    auth_user_model: str | None = None
    installed_apps: list[str] = field(default_factory=list)
    settings_partial: bool = False  # INSTALLED_APPS had parts that cannot be read statically
    settings_values: dict[str, object] = field(default_factory=dict)  # what the reader knows
    warnings: list[Warning_] = field(default_factory=list)


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def list_python_files(
    root: Path, include: tuple[str, ...], exclude: tuple[str, ...], warnings: list[Warning_]
) -> list[tuple[str, Path]]:
    """(relative path, absolute path) of every .py file to read, following symlinks once."""
    found: list[tuple[str, Path]] = []
    seen_dirs: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        try:
            stat = here.stat()
        except OSError:
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen_dirs:
            rel = here.relative_to(root).as_posix()
            warnings.append(Warning_(rel, "symlink loop or second link to a folder; read once"))
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in [d for d in dirnames if not _utf8(d)]:
            dirnames.remove(name)
            rel = (here / name).relative_to(root).as_posix()
            warnings.append(Warning_(_printable(rel), "folder name is not UTF-8; skipped"))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = here / name
            rel = full.relative_to(root).as_posix()
            if not _utf8(name):  # no module can have that name, and analysis.json is UTF-8
                warnings.append(Warning_(_printable(rel), "file name is not UTF-8; skipped"))
                continue
            excluded = _matches(rel, DEFAULT_EXCLUDES) and not _matches(rel, include)
            if excluded or _matches(rel, exclude):
                continue
            if not full.exists():
                warnings.append(Warning_(rel, "broken symlink; skipped"))
                continue
            found.append((rel, full))
    return found


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as lone surrogates
        return False
    return True


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_or_empty(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError:
        return b""


def _package_root(path: Path) -> Path:
    """The folder above the outermost package holding ``path`` (what sys.path would hold)."""
    folder = path.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def module_name(file: Path, source_root: Path) -> tuple[str, bool]:
    """Dotted module name of a file under its import root, and whether it is a package."""
    parts = list(file.relative_to(source_root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    if not parts:  # an __init__.py on the source root itself: name it after its folder
        parts = [source_root.name or "root"]
    return ".".join(parts), is_package


def _find_settings_module(files: list[tuple[str, Path]]) -> str | None:
    """The settings module named by manage.py, wsgi.py or asgi.py (shallowest first)."""
    candidates = sorted(
        (rel for rel, _ in files if rel.rsplit("/", 1)[-1] in ("manage.py", "wsgi.py", "asgi.py")),
        key=lambda rel: (rel.count("/"), not rel.endswith("manage.py")),
    )
    paths = dict(files)
    for rel in candidates:
        try:
            match = _SETTINGS_ENV.search(paths[rel].read_bytes())
        except OSError:
            continue
        if match:
            return match.group(1).decode()
    return None


def _locate_module(name: str, files: list[tuple[str, Path]]) -> tuple[Path, Path] | None:
    """Where module ``name`` lives: (file, source root). The source root may lie above the
    analysed folder (``figkit analyze myproject/`` where settings say ``myproject.settings``)."""
    tail = "/" + name.replace(".", "/")
    for _, path in sorted(files, key=lambda item: len(item[0])):
        text = path.resolve().as_posix()
        for suffix in (f"{tail}.py", f"{tail}/__init__.py"):
            if text.endswith(suffix):
                return path.resolve(), Path(text[: len(text) - len(suffix)] or "/")
    return None


def discover(
    path: Path,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    settings: str | None = None,
) -> Project:
    """Find everything the extractor needs to read, and what the settings say. `settings`
    names the settings module (as DJANGO_SETTINGS_MODULE would); else manage.py's is read."""
    if not path.exists():
        raise ProjectNotFound(f"{path} does not exist; pass the folder that holds manage.py")
    root = path.resolve()
    if root.is_file():
        raise ProjectNotFound(f"{path} is a file; pass the folder of the Django project")
    warnings: list[Warning_] = []
    listed = list_python_files(root, include, exclude, warnings)
    if not listed:
        raise ProjectNotFound(f"{path} holds no Python files; pass the folder that holds manage.py")
    by_rel = dict(listed)

    settings_module = settings or _find_settings_module(listed)
    settings_file: Path | None = None
    source_root: Path | None = None
    if settings_module is not None:
        located = _locate_module(settings_module, listed)
        if located is not None:
            settings_file, source_root = located
        elif settings:
            raise ProjectNotFound(
                f"settings module {settings} is not under {path}; pass --settings with the dotted "
                "name of a settings module of the analysed files (e.g. mysite.settings.production)"
            )
        else:
            warnings.append(Warning_("", f"settings module {settings_module} is not under {path}"))
    if settings_file is None:
        for rel, file in listed:
            is_settings = rel.endswith("settings.py") or "/settings/" in rel
            if is_settings and b"INSTALLED_APPS" in _read_or_empty(file):
                settings_file = file
                source_root = _package_root(file.resolve())
                settings_module = module_name(file.resolve(), source_root)[0]
                break
    if source_root is None:
        source_root = _package_root(root / "__init__.py")
        warnings.append(
            Warning_(
                "",
                "no Django settings found (no manage.py naming DJANGO_SETTINGS_MODULE "
                "and no settings.py with INSTALLED_APPS); apps are found by their "
                "AppConfig and models instead",
            )  # fmt: skip
        )

    files: list[SourceFile] = []
    for rel, file in listed:
        try:
            size = file.stat().st_size
        except OSError as exc:  # gone or unreadable since it was listed
            warnings.append(Warning_(rel, f"cannot be read ({exc.strerror}); skipped"))
            continue
        if size > max_file_bytes:
            warnings.append(
                Warning_(
                    rel,
                    f"is {size // 1_000_000} MB, over the {max_file_bytes // 1_000_000} MB "
                    "limit for source files (generated data?); skipped",
                )  # fmt: skip
            )
            continue
        if file.resolve().is_relative_to(source_root):
            module, is_package = module_name(file.resolve(), source_root)
        else:
            module, is_package = module_name(file.resolve(), _package_root(file.resolve()))
        files.append(SourceFile(rel, module, is_package, size))

    project = Project(root=root, source_root=source_root, files=files, warnings=warnings)
    project.settings_module = settings_module
    if settings_file is not None:
        _read_settings_into(project, settings_file, by_rel)
    return project


def _read_settings_into(project: Project, settings_file: Path, by_rel: dict[str, Path]) -> None:
    root, source_root = project.root, project.source_root
    modules = {f.module: root / f.path for f in project.files}

    def star_target(node: cst.ImportFrom, package: str) -> tuple[Path, str] | None:
        from analyzer.extract.context import dotted

        name = dotted(node.module) if node.module is not None else ""
        if node.relative:
            base = package.split(".")
            base = base[: len(base) - (len(node.relative) - 1)]
            name = ".".join([*base, name] if name else base)
        if name in modules:
            target = modules[name]
            is_package = target.name == "__init__.py"
            return target, name if is_package else name.rpartition(".")[0]
        return None

    settings_name, is_package = module_name(settings_file, source_root)
    package = settings_name if is_package else settings_name.rpartition(".")[0]
    values = read_settings(settings_file, package, star_target)
    project.settings_files = [
        p.relative_to(root).as_posix() for p in values.files if p.is_relative_to(root)
    ]
    project.installed_apps = values.installed_apps
    project.root_urlconf = values.root_urlconf
    project.auth_user_model = values.auth_user_model
    project.settings_values = values.values
    for file, warning in values.warnings:
        rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        project.warnings.append(Warning_(rel, warning.message, warning.line))
    for file, line, what in values.unreadable:
        rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        if what.startswith("INSTALLED_APPS"):
            project.settings_partial = True
            project.warnings.append(
                Warning_(
                    rel,
                    f"{what} is computed at run time; the apps it adds are found by "
                    "their AppConfig and models instead",
                    line or None,
                )  # fmt: skip
            )
        else:
            project.warnings.append(
                Warning_(rel, f"{what} cannot be read statically", line or None)
            )
    if not project.installed_apps:
        project.settings_partial = True
        project.warnings.append(
            Warning_(
                project.settings_files[0] if project.settings_files else "",
                "INSTALLED_APPS not found in the settings; apps are found by their AppConfig "
                "and models instead",
            )  # fmt: skip
        )
