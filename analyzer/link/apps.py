"""Which apps the project has: from INSTALLED_APPS and AppConfig classes, or, when the
settings cannot be read, from the folders that hold an AppConfig or models."""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.discover import Project
from analyzer.facts import Warning_
from analyzer.link.index import CodeIndex


@dataclass
class App:
    label: str
    name: str  # dotted module name of the app package
    path: str | None  # folder relative to the analysed root; None for external apps
    external: bool = False
    modules: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


def _is_app_config(index: CodeIndex, qualname: str, depth: int = 0) -> bool:
    cls = index.classes.get(qualname)
    if cls is None or depth > 6:
        return False
    for base in cls.bases:
        if not base.startswith("q:"):
            continue
        resolved = index.resolve(base[2:])
        if resolved.endswith("AppConfig") or resolved.endswith("PluginConfig"):
            return True
        if _is_app_config(index, resolved, depth + 1):
            return True
    return False


def _configs(index: CodeIndex) -> dict[str, list[str]]:
    """AppConfig classes per app package (module name of the app)."""
    out: dict[str, list[str]] = {}
    for qualname, cls in index.classes.items():
        if _is_app_config(index, qualname):
            module = index.class_module[qualname]
            app_name = cls.attributes.get("name") or module.rpartition(".")[0]
            out.setdefault(app_name, []).append(qualname)
    return out


def _folder(project: Project, index: CodeIndex, name: str) -> str | None:
    facts = index.modules.get(name)
    if facts is None:
        return None
    path = facts.path
    return path.rpartition("/")[0] if path.endswith("__init__.py") else path.rpartition("/")[0]


def find_apps(project: Project, index: CodeIndex, warnings: list[Warning_]) -> list[App]:
    configs = _configs(index)
    apps: dict[str, App] = {}

    def add(label: str, name: str, external: bool) -> None:
        if label in apps:
            return
        apps[label] = App(
            label, name, None if external else _folder(project, index, name), external
        )

    for entry in project.installed_apps:
        config = index.classes.get(entry)
        if config is not None and _is_app_config(index, entry):
            name = config.attributes.get("name") or index.class_module[entry].rpartition(".")[0]
            label = config.attributes.get("label") or name.rpartition(".")[2]
            add(label, name, name not in index.modules)
            continue
        if entry in index.modules:
            label = entry.rpartition(".")[2]
            for qualname in configs.get(entry, []):
                label = index.classes[qualname].attributes.get("label", label)
                break
            add(label, entry, False)
            continue
        # not in the tree: a third-party or contrib app, maybe named by its AppConfig
        name = entry
        if ".apps." in entry and entry.rsplit(".", 1)[-1][:1].isupper():
            name = entry.split(".apps.")[0]
        add(name.rpartition(".")[2], name, True)

    if project.settings_partial or not project.installed_apps:
        found = []
        for name, qualnames in sorted(configs.items()):
            if name in index.modules and not any(a.name == name for a in apps.values()):
                label = (
                    index.classes[qualnames[0]].attributes.get("label") or name.rpartition(".")[2]
                )
                add(label, name, False)
                found.append(label)
        for module in sorted(index.modules):
            if (module.endswith(".models") or ".models." in module) and _defines_models(
                index, module
            ):
                name = module.split(".models")[0]
                if (
                    name
                    and name in index.modules
                    and not any(a.name == name for a in apps.values())
                ):
                    add(name.rpartition(".")[2], name, False)
                    found.append(name.rpartition(".")[2])
        if found:
            warnings.append(
                Warning_(
                    project.settings_files[0] if project.settings_files else "",
                    f"{len(found)} apps found by AppConfig or models.py rather than "
                    f"INSTALLED_APPS: {', '.join(found[:12])}{' ...' if len(found) > 12 else ''}",
                )  # fmt: skip
            )
    return list(apps.values())


def _defines_models(index: CodeIndex, module: str) -> bool:
    """A models module that holds a Django model (GraphQL dataloaders/models.py does not)."""
    for cls in index.modules[module].classes:
        for base in cls.bases:
            resolved = index.resolve(base[2:]) if base.startswith("q:") else ""
            if resolved in ("django.db.models.Model", "django.db.models.base.Model"):
                return True
            owner = index.class_module.get(resolved, "")
            if owner != module and (owner.endswith(".models") or ".models." in owner):
                return True
    return False


class AppLocator:
    """The app a module belongs to: the installed app whose package is its longest prefix."""

    def __init__(self, apps: list[App]) -> None:
        self._by_name = {a.name: a for a in apps if not a.external}
        self._external_by_name = {a.name: a for a in apps if a.external}
        self._cache: dict[str, App | None] = {}

    def external_app_of(self, module: str) -> App | None:
        """The installed app outside the analysed tree that a module (an include) belongs to."""
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            found = self._external_by_name.get(".".join(parts[:end]))
            if found is not None:
                return found
        return None

    def app_of(self, module: str) -> App | None:
        if module in self._cache:
            return self._cache[module]
        parts = module.split(".")
        found = None
        for end in range(len(parts), 0, -1):
            found = self._by_name.get(".".join(parts[:end]))
            if found is not None:
                break
        self._cache[module] = found
        return found
