"""Routes as clients send them: one canonical form to compare Django's patterns with the
analysis's (the trailing slash significant), and the proxy's matcher tried on concrete paths
built from Django's patterns. Used by ``figkit analyze --verify`` (analyzer/verify.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# -- routes in one canonical form -------------------------------------------------------------

_GROUP_NAME = re.compile(r"\?P<\w+>")
_CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
# DRF's format_suffix_patterns repeat a route as `name.<format>` (a regex group, or a path
# converter whose own regex holds the dot: `<drf_format_suffix:format>`).
_FORMAT_SUFFIX = re.compile(r"(\\?\.\(\?P<format>[^)]*\)(/\?)?(\$|\\Z)?|\.?<(\w+:)?format>/?)$")


def _class_end(text: str, start: int) -> int:
    """Index just past the `]` that closes the character class opened at ``start``."""
    i = start + 1
    i += text.startswith("^", i)
    i += text.startswith("]", i)  # a `]` first in the class is a literal
    while i < len(text) and text[i] != "]":
        i += 2 if text[i] == "\\" else 1
    return min(i + 1, len(text))


def _group_end(text: str, start: int) -> int:
    """Index just past the `)` that closes the group opened at ``start``."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(text, i)
            continue
        depth += (c == "(") - (c == ")")
        i += 1
        if depth == 0:
            return i
    return len(text)


def route_key(pattern: str, typed: bool = False) -> str:
    """A route as clients see it, to compare patterns by. Regex anchors (`^`, `$`, `\\A`,
    `\\Z`) go; every capture, a named regex group or a path converter, becomes `<>` (names
    and types are not in the path a client sends); escaped punctuation becomes the character;
    the trailing slash stays: `^api/(?P<pk>[0-9]+)\\.json/$` and `api/<int:id>.json/` are both
    `api/<>.json/`, and `api/<>` is another route. ``typed`` keeps a converter's type and a
    group's regex (`api/<int>.json/`), to tell apart routes that differ only there."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt not in "AZ":
                out.append(pattern[i : i + 2] if nxt.isalnum() else nxt)
            i += 2
        elif c in "^$":
            i += 1
        elif c == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif c == "(":
            end = _group_end(pattern, i)
            inner = pattern[i + 1 : end - 1]
            if _GROUP_NAME.match(inner) or not inner.startswith("?"):
                out.append(f"<{_GROUP_NAME.sub('', inner, count=1)}>" if typed else "<>")
            elif inner.startswith("?:"):
                out.append("(?:" + route_key(inner[2:], typed) + ")")
            else:
                out.append(pattern[i:end])  # look-around or inline flags: kept as written
            i = end
        elif c == "<" and (m := _CONVERTER.match(pattern, i)):
            out.append(f"<{m.group(1) or 'str'}>" if typed else "<>")
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def format_suffix_base(pattern: str) -> str | None:
    """For a DRF `.<format>` copy of a route, the key of the route it copies without its
    trailing slash; None for any other route."""
    if not _FORMAT_SUFFIX.search(pattern):
        return None
    return route_key(_FORMAT_SUFFIX.sub("", pattern)).rstrip("/")


# -- proxy routes against concrete paths ------------------------------------------------------


@dataclass(frozen=True)
class ProxyCheck:
    """One own route of Django's: the path built from its pattern, the proxy route the plan
    made for the matching analysis route, and what the proxy's matcher did with both."""

    pattern: str  # Django's
    view: str
    sample: str | None
    proxy_match: str | None
    status: str  # ok | no route | no match | slash | bad proxy route | no sample
    detail: str = ""

    def as_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


PROXY_STATUSES = {
    "ok": "the proxy route matches the path and, where Django would not serve it, not the "
    "path with its trailing slash toggled",
    "no route": "the analysis has no route of this pattern",
    "no match": "the proxy route does not match the path built from Django's pattern",
    "slash": "the proxy route also matches the path with its trailing slash toggled, which "
    "Django does not resolve to this route",
    "bad proxy route": "the proxy refuses the generated route",
    "no sample": "no path could be built from Django's pattern",
    "not in plan": "the analysis has the route, but no step of the plan gives it a proxy route",
}


class _ProxyTables:
    """One single-route table of the proxy's per match string, or why the proxy refused it."""

    def __init__(self) -> None:
        # The analyzer does not import the proxy otherwise: only --verify needs its matcher.
        from strangler_proxy.errors import RouteError
        from strangler_proxy.routing import Route, RouteTable

        self._route, self._table, self._error = Route, RouteTable, RouteError
        self._tables: dict[str, Any] = {}

    def __call__(self, match: str):
        if match not in self._tables:
            try:
                route = self._route(name="route", match=match, target="service")
                route.validate()  # what the admin API would refuse (dot segments...) counts too
                self._tables[match] = self._table([route])
            except self._error as exc:
                self._tables[match] = str(exc)
        return self._tables[match]


def check_proxy_routes(
    seen: Iterable[dict], static_patterns: Iterable[str], match_for: Callable[[str], str | None]
) -> list[ProxyCheck]:
    """For each own route of Django's (not a `.<format>` copy), try the proxy route made from
    the analysis route of the same key on the route's concrete path, and on that path with
    its trailing slash toggled when Django would not resolve that one to the route."""
    tables = _ProxyTables()
    by_key: dict[str, list[str]] = {}
    for pattern in static_patterns:
        by_key.setdefault(route_key(pattern), []).append(pattern)
    out = []
    for r in seen:
        if not r.get("view_local", r.get("local")) or format_suffix_base(r["pattern"]):
            continue
        candidates = by_key.get(route_key(r["pattern"]), [])
        # Routes that differ only in a converter's type share a key: the best one counts.
        typed = route_key(r["pattern"], typed=True)
        candidates.sort(key=lambda p: route_key(p, typed=True) != typed)
        checks = [_check_one(r, match_for(p), tables) for p in candidates]
        if checks and route_key(candidates[0], typed=True) == typed:
            checks = checks[:1]  # the analysis has this very route: judge that one
        checks.sort(key=lambda c: _STATUS_ORDER.index(c.status))
        out.append(checks[0] if checks else ProxyCheck(r["pattern"], r.get("view", ""),
                                                       r.get("sample"), None, "no route"))  # fmt: skip
    return out


def check_suffix_copies(
    seen: Iterable[dict], suffixed: Iterable[str], match_for: Callable[[str], str | None]
) -> list[ProxyCheck]:
    """For each own `.<format>` copy of Django's whose route the analysis marks
    ``format_suffix`` (``suffixed``: those routes' patterns), does that route's proxy route
    also take the copy's path (`/api/notes/1.json`)? If not, the copy stays with the monolith
    after the cut."""
    tables = _ProxyTables()
    by_base: dict[str, str] = {}
    for pattern in suffixed:
        by_base.setdefault(route_key(pattern).rstrip("/"), pattern)
    out = []
    for r in seen:
        base = format_suffix_base(r["pattern"])
        if not r.get("view_local", r.get("local")) or base is None or base not in by_base:
            continue
        out.append(_check_one(r, match_for(by_base[base]), tables))
    return out


_STATUS_ORDER = (
    "ok",
    "slash",
    "no match",
    "bad proxy route",
    "no sample",
    "not in plan",
    "no route",
)


def _check_one(r: dict, match: str | None, tables: _ProxyTables) -> ProxyCheck:
    pattern, view, sample = r["pattern"], r.get("view", ""), r.get("sample")
    if match is None:
        return ProxyCheck(pattern, view, sample, None, "not in plan")
    table = tables(match)
    if isinstance(table, str):
        return ProxyCheck(pattern, view, sample, match, "bad proxy route", table)
    if sample is None:
        return ProxyCheck(pattern, view, None, match, "no sample", r.get("skipped", ""))
    if table.match("GET", sample) is None:
        return ProxyCheck(pattern, view, sample, match, "no match")
    toggled = r.get("toggled")
    if toggled and not r.get("toggled_resolves") and table.match("GET", toggled) is not None:
        return ProxyCheck(pattern, view, sample, match, "slash", toggled)
    return ProxyCheck(pattern, view, sample, match, "ok")
