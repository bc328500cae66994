"""Comparing two HTTP answers to one request, as shadow traffic does (after Twitter's Diffy).

An `Answer` is a status, the response headers chosen for comparison and the body. Two
answers differ at a *path*:

- `status`, or `header:NAME` for a chosen header;
- for JSON bodies, a JSONPath to the first differing node (`$.items[3].price`);
  objects are compared key by key, arrays element by element;
- `$` for any other body, compared byte for byte.

Ignore rules are JSONPath expressions (RFC 9535, read by python-jsonpath), such as
`$.generated_at` or `$..etag`, plus `status` and `header:NAME`. Learned noise is kept in
the same form, with array indices widened to `[*]`, so one rule covers every element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonpath

from strangler_proxy.errors import RouteError

# Never shown in a sample, whatever the route says.
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
REDACTED = "[redacted]"
WHOLE_BODY = "$"  # a body that is no JSON differs, is ignored or is learnt as noise as a whole
_ABSENT = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # RFC 9535's member-name shorthand
_SAMPLE_CHARS = 200  # of each value shown in a sample


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # chosen ones, names lower-case
    body: bytes = b""
    content_type: str = ""

    def document(self) -> Any:
        """The body as JSON when it is JSON, else _ABSENT."""
        if "json" not in self.content_type.lower() or not self.body:
            return _ABSENT
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return _ABSENT


@dataclass(frozen=True)
class Difference:
    path: str
    a: Any
    b: Any

    def shown(self) -> Difference:
        """Both values cut to a readable length, for a sample."""
        return Difference(self.path, _short(self.a), _short(self.b))


@dataclass(frozen=True)
class Rules:
    """Paths to leave out of a comparison: JSONPath expressions, `status` and `header:NAME`."""

    body: tuple[Any, ...] = ()  # compiled JSONPath expressions
    other: frozenset[str] = frozenset()  # "status", "header:name"
    texts: tuple[str, ...] = ()

    @classmethod
    def of(cls, paths: Iterable[str]) -> Rules:
        body, other, texts = [], set(), []
        for path in paths:
            texts.append(path)
            if path == "status" or path.startswith("header:"):
                other.add(path.lower())
            else:
                body.append(compile_path(path))
        return cls(tuple(body), frozenset(other), tuple(texts))

    def __or__(self, more: Rules) -> Rules:
        return Rules(self.body + more.body, self.other | more.other, self.texts + more.texts)

    def matches(self, document: Any) -> set[tuple]:
        """The concrete locations in `document` that a body rule selects."""
        found: set[tuple] = set()
        for expr in self.body:
            try:
                found.update(m.parts for m in expr.finditer(document))
            except jsonpath.JSONPathError:
                continue
        return found


@lru_cache(maxsize=4096)
def compile_path(text: str) -> Any:
    """A JSONPath expression, compiled; a bad one is a RouteError that says how to write it."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise RouteError(
            f"{text!r} is not a JSONPath: write it from the root, as '$.generated_at' or '$..etag' "
            "(or 'status', 'header:NAME')"
        )
    try:
        return jsonpath.compile(text)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0]
        raise RouteError(f"{text!r} is not a valid JSONPath: {first}") from None


def check_paths(paths: Any, what: str) -> None:
    """Validate a route's list of ignore or redact rules (raises RouteError)."""
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise RouteError(f"'{what}' must be a list of JSONPaths such as [\"$.generated_at\"]")
    for path in paths:
        if path == "status" or (path.startswith("header:") and len(path) > 7):
            continue
        compile_path(path)


def differences(
    a: Answer, b: Answer, ignore: Rules = Rules(), limit: int = 1, redact: Rules = Rules()
) -> list[Difference]:
    """Up to `limit` paths at which two answers differ, status and headers first.

    Values at a path under a `redact` rule, and of secret headers, read [redacted].
    """
    found: list[Difference] = []
    if a.status != b.status and "status" not in ignore.other:
        found.append(Difference("status", a.status, b.status))
    for name in sorted(set(a.headers) | set(b.headers)):
        va, vb = a.headers.get(name), b.headers.get(name)
        path = f"header:{name}"
        if va != vb and path not in ignore.other:
            if name in SECRET_HEADERS or path in redact.other:
                va = vb = REDACTED
            found.append(Difference(path, va, vb))
    if len(found) >= limit:
        return found[:limit]
    da, db = a.document(), b.document()
    if da is _ABSENT or db is _ABSENT:
        if a.body != b.body and WHOLE_BODY not in ignore.texts:
            hidden = WHOLE_BODY in redact.texts
            found.append(
                Difference(
                    WHOLE_BODY,
                    REDACTED if hidden else _text(a.body),
                    REDACTED if hidden else _text(b.body),
                )
            )
        return found[:limit]
    skip = ignore.matches(da) | ignore.matches(db) if ignore.body else set()
    secret = redact.matches(da) | redact.matches(db) if redact.body else set()
    structural: list[Difference] = []
    try:
        for parts, va, vb in _walk(da, db, (), skip):
            if secret and any(parts[:n] in secret for n in range(len(parts) + 1)):
                va = vb = REDACTED
            structural.append(Difference(path_text(parts), va, vb))
            if len(found) + len(structural) >= limit:
                break
    except RecursionError:  # nested deeper than Python's stack: compare the bytes instead
        structural = (
            [] if a.body == b.body else [Difference(WHOLE_BODY, _text(a.body), _text(b.body))]
        )
    return (found + structural)[:limit]


def _walk(a: Any, b: Any, at: tuple, skip: set[tuple]) -> Iterator[tuple[tuple, Any, Any]]:
    if at in skip:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _walk(a.get(key, _ABSENT), b.get(key, _ABSENT), (*at, key), skip)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            va = a[i] if i < len(a) else _ABSENT
            vb = b[i] if i < len(b) else _ABSENT
            yield from _walk(va, vb, (*at, i), skip)
        return
    differ = type(a) is not type(b) or a != b
    if differ and (isinstance(a, bool) or isinstance(b, bool) or not _same_number(a, b)):
        yield at, _value(a), _value(b)


def _same_number(a: Any, b: Any) -> bool:
    """1 and 1.0 are the same JSON number, and NaN (which Python's json reads) is itself."""
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and (a == b or (a != a and b != b))


def path_text(parts: Sequence[Any]) -> str:
    """('items', 3, 'price') -> $.items[3].price"""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:  # RFC 9535's normalized form: single quotes, \' and JSON's escapes inside
            inner = json.dumps(part)[1:-1].replace('\\"', '"').replace("'", "\\'")
            out.append(f"['{inner}']")
    return "".join(out)


def widened(path: str) -> str:
    """A concrete path as a rule for every element: $.items[3].price -> $.items[*].price"""
    return re.sub(r"\[\d+\]", "[*]", path)


def _value(v: Any) -> Any:
    return "(absent)" if v is _ABSENT else v


def _text(body: bytes) -> str:
    return body[: _SAMPLE_CHARS * 4].decode("utf-8", "replace")


def _short(v: Any) -> Any:
    if isinstance(v, dict | list):
        v = json.dumps(v, sort_keys=True)
    if isinstance(v, str) and len(v) > _SAMPLE_CHARS:
        return v[:_SAMPLE_CHARS] + "…"
    return v
