"""Routes and the compiled route table: which upstream serves a request.

A route matches a path pattern (Django-style, `/api/products/<int:id>/`, or a prefix
written with a trailing `*`, `/api/catalog/*`), optionally a set of methods and a
header. Patterns compile into a segment trie, so a lookup costs the depth of the path,
not the number of routes. The most specific route wins: segment by segment a literal
beats a typed converter (int, uuid), which beats str/slug, which beats a `<path:...>`
tail, which beats a prefix; at equal paths a route restricted by header and methods
beats one that is not. Unmatched traffic goes to the monolith.

Methods are case-sensitive tokens (RFC 9110 9.1): a route stores its methods upper-case
and matches the request method exactly, so `get` does not match a `GET` route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from strangler_proxy.errors import BadPath, RouteError
from strangler_proxy.policy import Policy

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Words the CLI and the admin API read as something other than a route name
# (`figkit routes rollback all`); compared without regard to case.
RESERVED_NAMES = frozenset({"all", "none", "default"})
ALL_ROUTES = "all"
# RFC 9110 5.6.2: a method is a token.
METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# A header value a route can compare: visible ASCII, spaces and tabs inside (RFC 9110 5.5).
# Control bytes (CR, LF, NUL...) cannot arrive in a valid request, and non-ASCII text
# depends on how the bytes are decoded: such a route would never match.
HEADER_VALUE_RE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?")
ROUTE_FIELDS = frozenset({"name", "match", "methods", "header", "target", "policy", "mode"})

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
        name = name.strip(" \t")
        if not HEADER_NAME_RE.fullmatch(name):
            raise RouteError(f"bad header match {text!r}: write NAME or 'NAME: VALUE'")
        return cls(name.lower(), value.strip(" \t") if sep else None)

    def check(self) -> None:
        """Refuse a header match no valid request can satisfy (control bytes, non-ASCII)."""
        if not HEADER_NAME_RE.fullmatch(self.name):
            raise RouteError(f"bad header name {self.name!r}: a header name is a token (RFC 9110)")
        if self.value and not HEADER_VALUE_RE.fullmatch(self.value):
            raise RouteError(
                f"bad header value {self.value!r}: it may hold visible ASCII, spaces and tabs, "
                "no CR, LF, NUL or other control bytes"
            )

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}: {self.value}"


@dataclass(frozen=True)
class Route:
    """One row of the route table: what it matches, its target and its policy.

    Methods are stored upper-case (RFC 9110 methods are case-sensitive tokens; the usual
    ones are upper-case) and matched exactly.
    """

    name: str
    match: str
    target: str
    policy: Policy = Policy()
    methods: frozenset[str] = field(default_factory=frozenset)
    header: HeaderMatch | None = None

    def __post_init__(self) -> None:
        if isinstance(self.policy, str):  # Route(name, match, target, "service"), as before
            object.__setattr__(self, "policy", Policy(self.policy))
        elif not isinstance(self.policy, Policy):
            raise RouteError(f"route {self.name!r}: policy must be a Policy, not {self.policy!r}")
        methods = frozenset(m.upper() for m in self.methods)
        if methods != self.methods or not isinstance(self.methods, frozenset):
            object.__setattr__(self, "methods", methods)

    @property
    def mode(self) -> str:
        """Who serves the route: the policy's mode (monolith, service, ...)."""
        return self.policy.mode

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "match": self.match,
            "methods": sorted(self.methods),
            "header": None if self.header is None else str(self.header),
            "target": self.target,
            "policy": self.policy.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, *, stored: bool = False) -> Route:
        """Build and validate a route from its JSON form (the admin API's and the store's).

        The older `"mode": "service"` shorthand (store rows and export files written
        before policies) is read as `"policy": {"mode": "service"}`. With `stored`, a
        row the store already holds is read without the refusals added for new input
        since it was written (reserved names, dot segments...), so the table still loads.
        """
        if not isinstance(data, Mapping):
            raise RouteError("a route must be a JSON object")
        unknown = set(data) - ROUTE_FIELDS
        if unknown:
            raise RouteError(f"unknown route field(s): {', '.join(sorted(map(str, unknown)))}")
        for key in ("name", "match", "target"):
            if not isinstance(data.get(key), str) or not data.get(key):
                raise RouteError(f"route field {key!r} is required and must be a string")
        methods = data.get("methods") or []
        if isinstance(methods, str):
            methods = [m for m in methods.split(",") if m.strip(" \t")]
        if not isinstance(methods, list | tuple) or not all(isinstance(m, str) for m in methods):
            raise RouteError("route field 'methods' must be a list of HTTP methods")
        header = data.get("header")
        if header is not None and not isinstance(header, str):
            raise RouteError("route field 'header' must be 'NAME' or 'NAME: VALUE'")
        if "policy" in data and "mode" in data:
            raise RouteError("give the route a 'policy' or the older 'mode', not both")
        if "mode" in data:
            mode = data["mode"]
            if mode is not None and not isinstance(mode, str):
                raise RouteError("route field 'mode' must be a string, as \"service\"")
            policy = Policy(mode or "monolith")
        else:
            raw = data.get("policy")
            policy = Policy() if raw is None else Policy.from_dict(raw)
        for method in methods:
            if not METHOD_RE.fullmatch(method.strip(" \t")):
                raise RouteError(
                    f"bad HTTP method {method!r} in route {data['name']!r}: "
                    "a method is a token, as GET or PURGE"
                )
        route = cls(
            name=data["name"],
            match=data["match"],
            target=data["target"],
            policy=policy,
            methods=frozenset(m.strip(" \t") for m in methods),
            header=HeaderMatch.parse(header) if header else None,
        )
        route.validate(new=not stored)
        return route

    def validate(self, *, new: bool = True) -> None:
        """Raise RouteError for a route the table cannot hold.

        With `new` (the default, for every route given through the admin API or an
        import), also refuse routes that make no sense: a reserved name, a pattern no
        normalised path can match, a header match no valid request can satisfy.
        """
        if not NAME_RE.fullmatch(self.name):
            raise RouteError(
                f"bad route name {self.name!r}: use letters, digits, '.', '_' or '-', at most 64"
            )
        self.policy.validate(self.name)
        for method in self.methods:
            if not METHOD_RE.fullmatch(method):
                raise RouteError(
                    f"bad HTTP method {method!r} in route {self.name!r}: "
                    "a method is a token, as GET or PURGE"
                )
        pattern = compile_pattern(self.match)
        if not new:
            return
        if self.name.lower() in RESERVED_NAMES:
            raise RouteError(
                f"route name {self.name!r} is reserved (`figkit routes rollback all` means "
                f"every route); reserved: {', '.join(sorted(RESERVED_NAMES))}"
            )
        if any(seg.key in (".", "..") for seg in pattern.segments):
            raise RouteError(
                f"bad pattern {self.match!r}: a '.' or '..' segment can never match, because "
                "the proxy resolves dot segments before matching; write the path it stands for"
            )
        if self.header is not None:
            self.header.check()


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
