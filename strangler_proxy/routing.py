"""Routes and the compiled route table: which upstream serves a request.

A route matches a path pattern (Django-style, `/api/products/<int:id>/`, or a prefix
written with a trailing `*`, `/api/catalog/*`), optionally a set of methods and a
header. Patterns compile into a segment trie, so a lookup costs the depth of the path,
not the number of routes. The most specific route wins: segment by segment a literal
beats a typed converter (int, uuid), which beats str/slug, which beats a `<path:...>`
tail, which beats a prefix; at equal paths a route restricted by header and methods
beats one that is not. Unmatched traffic goes to the monolith.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from strangler_proxy.errors import BadPath, RouteError

Mode = Literal["monolith", "service"]
MODES: tuple[str, ...] = ("monolith", "service")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
METHOD_RE = re.compile(r"[A-Z]{1,20}")
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")

# Django's path converters: the regex each segment must match, and its rank (higher wins).
CONVERTERS: dict[str, tuple[str, int]] = {
    "int": (r"[0-9]+", 2),
    "uuid": (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", 2),
    "slug": (r"[-a-zA-Z0-9_]+", 1),
    "str": (r"[^/]+", 1),
}
_PARAM_RE = re.compile(r"<(?:(?P<conv>[A-Za-z_]\w*):)?(?P<name>[A-Za-z_]\w*)>")
_RANK_MIXED = 3  # a segment with literal text around a converter: `page-<int:n>`


@dataclass(frozen=True)
class HeaderMatch:
    """Match a request header: present (value None) or equal to value."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> HeaderMatch:
        """`X-Beta` (present) or `X-Beta: 1` (equal)."""
        name, sep, value = text.partition(":")
        name = name.strip()
        if not HEADER_NAME_RE.fullmatch(name):
            raise RouteError(f"bad header match {text!r}: write NAME or 'NAME: VALUE'")
        return cls(name.lower(), value.strip() if sep else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}: {self.value}"


@dataclass(frozen=True)
class Route:
    """One row of the route table."""

    name: str
    match: str
    target: str
    mode: Mode = "monolith"
    methods: frozenset[str] = field(default_factory=frozenset)
    header: HeaderMatch | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "match": self.match,
            "methods": sorted(self.methods),
            "header": None if self.header is None else str(self.header),
            "target": self.target,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Route:
        """Build and validate a route from its JSON form (the admin API's and the store's)."""
        if not isinstance(data, Mapping):
            raise RouteError("a route must be a JSON object")
        unknown = set(data) - {"name", "match", "methods", "header", "target", "mode"}
        if unknown:
            raise RouteError(f"unknown route field(s): {', '.join(sorted(unknown))}")
        for key in ("name", "match", "target"):
            if not isinstance(data.get(key), str) or not data.get(key):
                raise RouteError(f"route field {key!r} is required and must be a string")
        methods = data.get("methods") or []
        if isinstance(methods, str):
            methods = [m for m in methods.split(",") if m.strip()]
        if not isinstance(methods, list | tuple) or not all(isinstance(m, str) for m in methods):
            raise RouteError("route field 'methods' must be a list of HTTP methods")
        header = data.get("header")
        if header is not None and not isinstance(header, str):
            raise RouteError("route field 'header' must be 'NAME' or 'NAME: VALUE'")
        route = cls(
            name=data["name"],
            match=data["match"],
            target=data["target"],
            mode=data.get("mode") or "monolith",
            methods=frozenset(m.strip().upper() for m in methods),
            header=HeaderMatch.parse(header) if header else None,
        )
        route.validate()
        return route

    def validate(self) -> None:
        if not NAME_RE.fullmatch(self.name):
            raise RouteError(
                f"bad route name {self.name!r}: use letters, digits, '.', '_' or '-', at most 64"
            )
        if self.mode not in MODES:
            raise RouteError(
                f"bad mode {self.mode!r} for route {self.name!r}: use monolith or service"
            )
        for method in self.methods:
            if not METHOD_RE.fullmatch(method):
                raise RouteError(f"bad HTTP method {method!r} in route {self.name!r}")
        compile_pattern(self.match)


@dataclass(frozen=True)
class _Segment:
    key: str  # literal text, or the segment's regex source for a dynamic segment
    rank: int  # 4 literal, 3 mixed, 2 typed, 1 str/slug
    regex: re.Pattern | None


@dataclass(frozen=True)
class Pattern:
    segments: tuple[_Segment, ...]
    tail: Literal["exact", "path", "prefix"]


def compile_pattern(text: str) -> Pattern:
    """Parse a route's match string, or raise RouteError saying what is wrong with it."""
    if not isinstance(text, str) or not text.startswith("/"):
        raise RouteError(f"bad pattern {text!r}: it must start with '/'")
    if len(text) > 1000 or any(c in text for c in "\x00?#") or any(ch.isspace() for ch in text):
        raise RouteError(f"bad pattern {text!r}: no spaces, '?', '#' or NUL, at most 1000 chars")
    body, tail = text[1:], "exact"
    if body.endswith("*"):
        body = body[:-1]
        if body and not body.endswith("/"):
            raise RouteError(f"bad pattern {text!r}: a prefix ends in '/*', as in /api/catalog/*")
        body, tail = body[:-1], "prefix"
    if "*" in body:
        raise RouteError(f"bad pattern {text!r}: '*' may only end a prefix pattern")
    raw_segments = body.split("/") if (body or tail == "exact") else []
    segments: list[_Segment] = []
    for i, raw in enumerate(raw_segments):
        if "<" not in raw and ">" not in raw:
            segments.append(_Segment(raw, 4, None))
            continue
        pieces, last, converters = [], 0, []
        for m in _PARAM_RE.finditer(raw):
            pieces.append(re.escape(raw[last : m.start()]))
            conv = m.group("conv") or "str"
            converters.append(conv)
            if conv == "path":
                if (
                    i != len(raw_segments) - 1
                    or m.start() != 0
                    or m.end() != len(raw)
                    or tail != "exact"
                ):
                    raise RouteError(
                        f"bad pattern {text!r}: <path:...> must be the whole last segment "
                        "(or use a prefix, /api/files/*)"
                    )
                converters.pop()
                break
            if conv not in CONVERTERS:
                raise RouteError(
                    f"bad pattern {text!r}: unknown converter {conv!r} "
                    f"(use {', '.join(sorted([*CONVERTERS, 'path']))})"
                )
            pieces.append(f"(?:{CONVERTERS[conv][0]})")
            last = m.end()
        else:
            rest = raw[last:]
            if "<" in rest or ">" in rest or any("<" in p or ">" in p for p in pieces):
                raise RouteError(f"bad pattern {text!r}: unbalanced '<' or '>' in {raw!r}")
            pieces.append(re.escape(rest))
            source = "".join(pieces)
            whole = len(converters) == 1 and _PARAM_RE.fullmatch(raw) is not None
            rank = CONVERTERS[converters[0]][1] if whole else _RANK_MIXED
            segments.append(_Segment(source, rank, re.compile(source)))
            continue
        tail = "path"  # the <path:...> segment ends the pattern
    return Pattern(tuple(segments), tail)  # type: ignore[arg-type]


_NEEDS_NORMALISING = re.compile(r"/\.\.?(?:/|$)")


def normalise_path(path: str) -> str:
    """Resolve dot segments (RFC 3986 5.2.4) in an already percent-decoded path.

    The proxy matches and forwards the normalised path, so `/api/products/../admin/`
    is matched, and served, as `/admin/`: no route can be reached around its pattern.
    """
    if not path.startswith("/") or "\x00" in path:
        raise BadPath("the request path must start with '/' and hold no NUL byte")
    if not _NEEDS_NORMALISING.search(path):
        return path
    out: list[str] = []
    parts = path.split("/")[1:]
    for i, seg in enumerate(parts):
        last = i == len(parts) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


class _Node:
    __slots__ = ("literal", "dynamic", "exact", "tail_path", "prefix")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.dynamic: list[tuple[_Segment, _Node]] = []
        self.exact: list[Route] = []
        self.tail_path: list[Route] = []
        self.prefix: list[Route] = []


def _route_order(route: Route) -> tuple:
    return (route.header is None, not route.methods, route.name)


class RouteTable:
    """An immutable, compiled route table. Build a new one for each version of the store."""

    def __init__(self, routes: Iterable[Route] = (), version: int = 0) -> None:
        self.version = version
        self.routes: dict[str, Route] = {}
        self._root = _Node()
        for route in routes:
            self._add(route)
        self._sort(self._root)
        self.has_header_routes = any(r.header is not None for r in self.routes.values())

    def _add(self, route: Route) -> None:
        if route.name in self.routes:
            raise RouteError(f"duplicate route name {route.name!r}")
        self.routes[route.name] = route
        pattern = compile_pattern(route.match)
        node = self._root
        for seg in pattern.segments:
            if seg.regex is None:
                node = node.literal.setdefault(seg.key, _Node())
                continue
            for existing, child in node.dynamic:
                if existing.key == seg.key:
                    node = child
                    break
            else:
                child = _Node()
                node.dynamic.append((seg, child))
                node = child
        {"exact": node.exact, "path": node.tail_path, "prefix": node.prefix}[pattern.tail].append(
            route
        )

    def _sort(self, node: _Node) -> None:
        node.dynamic.sort(key=lambda item: (-item[0].rank, item[0].key))
        for bucket in (node.exact, node.tail_path, node.prefix):
            bucket.sort(key=_route_order)
        for child in node.literal.values():
            self._sort(child)
        for _, child in node.dynamic:
            self._sort(child)

    def __len__(self) -> int:
        return len(self.routes)

    def match(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> Route | None:
        """The most specific route for a normalised path, or None (the monolith serves it).

        `headers` maps lower-case header names to values; it is only read by routes that
        match on a header.
        """
        segments = path[1:].split("/")
        return self._walk(self._root, segments, 0, method, headers or {})

    def _walk(
        self, node: _Node, segs: list[str], i: int, method: str, headers: Mapping
    ) -> Route | None:
        if i == len(segs):
            found = _pick(node.exact, method, headers)
            return found or _pick(node.prefix, method, headers)
        seg = segs[i]
        child = node.literal.get(seg)
        if child is not None:
            found = self._walk(child, segs, i + 1, method, headers)
            if found is not None:
                return found
        for dyn, child in node.dynamic:
            if dyn.regex.fullmatch(seg):  # type: ignore[union-attr]
                found = self._walk(child, segs, i + 1, method, headers)
                if found is not None:
                    return found
        if node.tail_path and any(segs[i:]):
            found = _pick(node.tail_path, method, headers)
            if found is not None:
                return found
        return _pick(node.prefix, method, headers)


def _pick(routes: list[Route], method: str, headers: Mapping) -> Route | None:
    for route in routes:
        if route.methods and method not in route.methods:
            continue
        if route.header is not None:
            value = headers.get(route.header.name)
            if value is None or (route.header.value is not None and value != route.header.value):
                continue
        return route
    return None
