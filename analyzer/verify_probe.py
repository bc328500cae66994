"""Run inside the analysed project's environment by ``figkit analyze --verify``: load the
Django registry and URL resolver and print, as JSON, what Django itself sees.

    DJANGO_SETTINGS_MODULE=... python -m analyzer.verify_probe SOURCE_ROOT

Stdlib and Django only, so it runs wherever the project runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _module_file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return str(Path(path).resolve()) if path else None


_INSTALLED = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p
)


def _is_local(file: str, root: str) -> bool:
    """Defined in the analysed tree, not in an installed package (even a venv inside it)."""
    if not file.startswith(root) or file.startswith(_INSTALLED):
        return False
    return not ({"site-packages", "dist-packages"} & set(Path(file).parts))


def _models(root: str) -> tuple[list[dict], list[dict]]:
    from django.apps import apps

    models, relations = [], []
    for model in apps.get_models(include_auto_created=False):
        meta = model._meta
        file = _module_file(model.__module__) or ""
        local = _is_local(file, root)
        models.append(
            {"label": meta.label, "table": meta.db_table, "proxy": meta.proxy, "local": local}
        )
        if not local or meta.proxy:
            continue
        for field in meta.get_fields(include_parents=False):
            parent_link = getattr(getattr(field, "remote_field", None), "parent_link", False)
            if not field.is_relation or field.auto_created and not parent_link:
                continue
            if not getattr(field, "concrete", False) and not field.many_to_many:
                continue  # GenericForeignKey, reverse relations
            if field.related_model is None or isinstance(field.related_model, str):
                continue
            kind = "m2m" if field.many_to_many else "o2o" if field.one_to_one else "fk"
            relations.append({"model": meta.label, "field": field.name, "kind": kind,
                              "target": field.related_model._meta.label})  # fmt: skip
    return models, relations


def _routes(root: str) -> list[dict]:
    """Every route with the urlconf module that declares it. A route counts as the project's
    when a module of the tree declares it (an include of a pattern list inherits the module
    that includes it), except Django's admin, which the static analysis leaves out."""
    from django.urls import URLPattern, URLResolver, get_resolver

    out: list[dict] = []

    def walk(resolver, prefix: str, declared_in: str, admin: bool) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                module = entry.urlconf_module
                name = module.__name__ if hasattr(module, "__name__") else declared_in
                walk(entry, prefix + str(entry.pattern), name, admin or entry.app_name == "admin")
            elif isinstance(entry, URLPattern):
                local = _is_local(_module_file(declared_in) or "", root) and not admin
                out.append({"pattern": prefix + str(entry.pattern), "declared_in": declared_in,
                            "local": local})  # fmt: skip

    top = get_resolver()
    walk(top, "", top.urlconf_module.__name__, False)
    return out


def main() -> None:
    root = str(Path(sys.argv[1]).resolve())
    sys.path.insert(0, root)
    import django

    django.setup()
    models, relations = _models(root)
    json.dump({"models": models, "relations": relations, "routes": _routes(root)}, sys.stdout)


if __name__ == "__main__":
    main()
