"""Run inside the analysed project's environment by ``figkit analyze --verify``: load the
Django registry and URL resolver and print, as JSON, what Django itself sees.

    DJANGO_SETTINGS_MODULE=... python -m analyzer.verify_probe SOURCE_ROOT [OUTPUT_JSON [TREE]]

SOURCE_ROOT goes on sys.path; TREE (the analysed folder, SOURCE_ROOT by default) is what counts
as the project's own: an installed app beside it (``extracted.seam`` next to the monolith, both
under SOURCE_ROOT) is external, as the static analysis counts it, like a site-packages app.

Stdlib and Django only, so it runs wherever the project runs (Python 3.10 and up).
For every route it also builds a concrete path from the route's own regex (``sample``) and
asks Django's resolver whether that path, and the path with its trailing slash toggled,
resolve to that route: verify checks the proxy's route against both.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

try:  # the stdlib's regex parser; private, so fall back to its pre-3.11 name
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef, unused-ignore]


def _module_file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return str(Path(path).resolve()) if path else None


_INSTALLED = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p
)


def _is_local(file: str, root: str) -> bool:
    """Defined in the analysed tree, not in an installed package (even a venv inside it)."""
    if not file or not Path(file).is_relative_to(root) or file.startswith(_INSTALLED):
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


# -- a concrete path for a regex --------------------------------------------------------------
# A few lines over the stdlib's parse tree cover what urlconfs use: literals, classes, ranges,
# categories, repeats, alternations, groups. Back-references, conditionals and look-arounds
# are not generated (a look-around is skipped, then the whole path is checked against the
# regex, so a sample that a look-around rejects is reported, never used).


class NoSample(ValueError):
    """The regex uses something the sample generator does not produce."""


_CANDIDATES = "a1bA-_x0.~"
_CATEGORY_SAMPLE = {"DIGIT": "1", "NOT_DIGIT": "a", "WORD": "a", "NOT_WORD": "-",
                    "SPACE": " ", "NOT_SPACE": "a"}  # fmt: skip
_CATEGORY_TEST = {"DIGIT": r"\d", "NOT_DIGIT": r"\D", "WORD": r"\w", "NOT_WORD": r"\W",
                  "SPACE": r"\s", "NOT_SPACE": r"\S"}  # fmt: skip


def _category(av: object) -> str:
    return str(av).removeprefix("CATEGORY_").removeprefix("UNI_").removeprefix("LOC_")


def _in_set(char: str, items: list) -> bool:
    negate, hit = False, False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name.startswith("LITERAL"):
            hit = hit or ord(char) == av
        elif name.startswith("RANGE"):
            hit = hit or av[0] <= ord(char) <= av[1]
        elif name == "CATEGORY":
            test = _CATEGORY_TEST.get(_category(av))
            hit = hit or bool(test and re.fullmatch(test, char))
        else:
            raise NoSample(f"character set item {name}")
    return hit != negate


def _sample_items(items, out: list[str], repeated: bool = False) -> None:
    for op, av in items:
        name = str(op)
        if name.startswith("LITERAL"):
            out.append(chr(av))
        elif name.startswith("NOT_LITERAL"):
            out.append("a" if av != ord("a") else "b")
        elif name == "ANY":  # an unescaped dot in `jwks.json` means a dot; in `.*`, anything
            out.append("a" if repeated else ".")
        elif name.startswith("IN"):
            out.append(next((c for c in _CANDIDATES if _in_set(c, av)), None) or _no(name))
        elif name == "CATEGORY":
            out.append(_CATEGORY_SAMPLE.get(_category(av)) or _no(str(av)))
        elif name.endswith("_REPEAT"):
            low, high, sub = av
            count = 0 if (low, high) == (0, 1) else max(low, 1)  # `x?` absent, `x*` once
            for _ in range(count):
                _sample_items(sub, out, True)
        elif name == "SUBPATTERN":
            _sample_items(av[-1], out, repeated)
        elif name == "ATOMIC_GROUP":
            _sample_items(av, out, repeated)
        elif name == "BRANCH":
            _sample_items(av[1][0], out, repeated)
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            _no(name)


def _no(what: str) -> str:
    raise NoSample(f"regex construct {what} is not generated")


_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def sample_path(regex: str) -> str:
    """A path the regex matches from its start: '^api/(?P<pk>[0-9]+)/$' -> 'api/1/'."""
    # Django compiles each level apart; joined, a level's inline flags must lead the whole.
    flags = _INLINE_FLAGS.findall(regex)
    regex = "".join(flags) + _INLINE_FLAGS.sub("", regex)
    out: list[str] = []
    _sample_items(_sre.parse(regex), out)
    text = "".join(out)
    if not re.match(regex, text):
        raise NoSample(f"the generated {text!r} does not match")
    return text


def toggle_slash(path: str) -> str | None:
    """The same path with its trailing slash removed or added (None for the root)."""
    if path == "/":
        return None
    return path[:-1] if path.endswith("/") else path + "/"


# -- routes -----------------------------------------------------------------------------------


def _join_route(first: str, second: str) -> str:
    """Django's ResolverMatch.route: pieces joined, without the '^' of the second."""
    return first + second.removeprefix("^") if first else second


def _piece(pattern, endpoint: bool) -> str:
    """The regex one level of the resolver matches, without its start anchor."""
    text = pattern.regex.pattern.removeprefix("^")
    if not endpoint:
        text = text.removesuffix(r"\Z").removesuffix("$")
    return text


def _view(callback) -> object:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback


def _view_name(view) -> str:
    return f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', repr(view))}"


def _routes(root: str) -> list[dict]:
    """Every route: its pattern as Django joins it, its view, the urlconf module that declares
    it (an include of a pattern list inherits the module that includes it), whether Django's
    admin holds it, and a concrete path with the resolver's verdict on it."""
    from django.urls import URLPattern, URLResolver, get_resolver

    out: list[dict] = []

    def walk(resolver, route: str, regex: str, declared_in: str, admin: bool) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                module = entry.urlconf_module
                name = module.__name__ if hasattr(module, "__name__") else declared_in
                walk(entry, _join_route(route, str(entry.pattern)),
                     regex + _piece(entry.pattern, False), name,
                     admin or entry.app_name == "admin")  # fmt: skip
            elif isinstance(entry, URLPattern):
                view = _view(entry.callback)
                view_file = _module_file(getattr(view, "__module__", "")) or ""
                record = {
                    "pattern": _join_route(route, str(entry.pattern)),
                    "regex": "^" + regex + _piece(entry.pattern, True),
                    "view": _view_name(view),
                    "declared_in": declared_in,
                    "local": _is_local(_module_file(declared_in) or "", root) and not admin,
                    "view_local": _is_local(view_file, root) and not admin,
                    "admin": admin,
                }
                out.append({**record, **_resolution(record, entry.callback)})

    top = get_resolver()
    walk(top, "", "", top.urlconf_module.__name__, False)
    return out


def _resolves_to(path: str, route: str, callback) -> bool:
    from django.urls import resolve

    try:
        match = resolve(path)
    except Exception:  # Resolver404, or a converter or urlconf that raises on this path
        return False
    return match.route == route and (match.func is callback or match.func == callback)


def _resolution(record: dict, callback) -> dict:
    """A concrete path for the route, whether Django resolves it to the route, and the same
    for the path with its trailing slash toggled."""
    try:
        sample = "/" + sample_path(record["regex"])
    except (NoSample, re.error, RecursionError, OverflowError) as exc:
        return {"sample": None, "skipped": str(exc)}
    toggled = toggle_slash(sample)
    return {
        "sample": sample,
        "sample_resolves": _resolves_to(sample, record["pattern"], callback),
        "toggled": toggled,
        "toggled_resolves": _resolves_to(toggled, record["pattern"], callback)
        if toggled
        else False,
    }


def main() -> None:
    source_root = str(Path(sys.argv[1]).resolve())
    tree = str(Path(sys.argv[3]).resolve()) if len(sys.argv) > 3 else source_root
    sys.path.insert(0, source_root)
    import django

    django.setup()
    models, relations = _models(tree)
    seen = {"models": models, "relations": relations, "routes": _routes(tree)}
    if len(sys.argv) > 2:  # a file: whatever the project prints to stdout stays out of the JSON
        Path(sys.argv[2]).write_text(json.dumps(seen))
    else:
        json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
