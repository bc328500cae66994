"""The pure step of the data path: from a request head and the route table, what to send where.

No sockets and no clock here: `plan()` takes the head as the parser saw it and returns
either a `Call` (the route, the upstream's name and the exact bytes of the request head
to send) or a `Refusal` (the status and one line to answer with). The relay then only
moves bytes. Behaviours (strangler_proxy/behaviours/) may change the chosen upstream
between the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from strangler_proxy.forwarding import (
    Headers,
    TrustedHops,
    request_id,
    traceparent,
    upstream_headers,
)
from strangler_proxy.routing import Route, RouteTable

DEFAULT_ROUTE = "(default)"

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(slots=True)
class RequestHead:
    """A request head as it came off the wire; the parser fills it in one pass."""

    method: bytes
    target: bytes  # the raw request-target
    http11: bool
    headers: Headers  # in order, names in the client's case
    client: str | None
    host_count: int = 0
    host: bytes | None = None
    request_id: bytes | None = None
    traceparent: bytes | None = None
    connection: bytes | None = None
    upgrade: bool = False  # a protocol switch (WebSocket) was asked for


@dataclass(slots=True)
class Call:
    route: Route | None
    route_name: str
    upstream: str
    path: bytes  # normalised path and the query, as sent upstream
    match_path: str  # the percent-decoded path that routes matched on
    request_id: bytes
    traceparent: bytes
    headers: Headers  # without framing; Host is filled in by `head_bytes`


@dataclass(slots=True)
class Refusal:
    status: int
    code: str
    detail: str


def normalise_target(target: bytes) -> tuple[bytes, str] | Refusal:
    """(path and query to forward, percent-decoded path to match), or why the target is refused.

    RFC 3986 6.2.2: escapes of unreserved characters are decoded (`%2e` is `.`), then dot
    segments are removed, so `/api/x/%2e%2e/admin/` is matched, and sent, as `/admin/`.
    Every other byte passes unchanged: `%2F` stays an escape inside its segment, and an
    invalid UTF-8 escape such as `%FF` reaches the upstream as `%FF`.
    """
    if not target.startswith(b"/"):
        return Refusal(400, "bad_request", "the request target must be a path starting with '/'")
    path, sep, query = target.partition(b"?")
    if b"%" in path:
        path = _ESCAPE.sub(_decode_unreserved, path)
    if b"/." in path:
        path = _remove_dot_segments(path)
    match = (
        unquote(path.decode("ascii", "surrogateescape"), errors="replace")
        if b"%" in path
        else path.decode("latin-1")
    )
    if "\x00" in match:
        return Refusal(400, "bad_request", "the request path holds a NUL byte (%00)")
    return (path + sep + query if sep else path), match


def absolute_form(target: bytes) -> tuple[bytes, bytes] | None:
    """(authority, origin-form target) of `http://host[:port]/path?query`, or None."""
    lowered = target[:8].lower()
    if lowered.startswith(b"http://"):
        rest = target[7:]
    elif lowered.startswith(b"https://"):
        rest = target[8:]
    else:
        return None
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if not authority or b"@" in authority:
        return None  # no host, or user info (RFC 9110 4.2.4: not in http(s) targets)
    if not path.startswith(b"/"):
        path = b"/" + path
    return authority, path


def _decode_unreserved(m: re.Match) -> bytes:
    byte = int(m.group(1), 16)
    return bytes((byte,)) if byte in _UNRESERVED else m.group(0)


def _remove_dot_segments(path: bytes) -> bytes:
    out: list[bytes] = []
    parts = path.split(b"/")[1:]
    last_index = len(parts) - 1
    for i, seg in enumerate(parts):
        if seg == b".":
            if i == last_index:
                out.append(b"")
        elif seg == b"..":
            if out:
                out.pop()
            if i == last_index:
                out.append(b"")
        else:
            out.append(seg)
    return b"/" + b"/".join(out)


def visible_headers(headers: Headers) -> dict[str, str]:
    """Lower-case name → value of what the upstream will see (header routes match on this)."""
    from strangler_proxy.forwarding import HOP_BY_HOP, connection_options

    drop = HOP_BY_HOP | connection_options(headers)
    seen: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower not in drop:
            seen.setdefault(lower.decode("latin-1"), value.decode("latin-1"))
    return seen


def plan(
    head: RequestHead,
    table: RouteTable,
    default_upstream: str,
    trusted: TrustedHops,
    scheme: str = "http",
) -> Call | Refusal:
    """Where this request goes and what its head will say; a Refusal for a request no upstream should see."""
    if head.http11 and head.host_count != 1:
        return Refusal(
            400,
            "bad_request",
            "an HTTP/1.1 request needs exactly one Host header (RFC 9112 3.2)",
        )
    target = head.target
    if not target.startswith(b"/"):
        absolute = absolute_form(target)
        if absolute is None:
            return Refusal(
                400, "bad_request", "the request target must be a path or an http(s) URL"
            )
        authority, target = absolute
        # RFC 9112 3.2.2: the authority of an absolute-form target replaces the Host header.
        head.headers = [(n, authority if n.lower() == b"host" else v) for n, v in head.headers]
        head.host = authority
    normal = normalise_target(target)
    if isinstance(normal, Refusal):
        return normal
    path, match = normal
    method = head.method.decode("ascii")
    route = table.match(
        method, match, visible_headers(head.headers) if table.has_header_routes else None
    )
    upstream, name = default_upstream, DEFAULT_ROUTE
    if route is not None:
        name = route.name
        if route.mode == "service":
            upstream = route.target
    rid = request_id(head.request_id)
    tp = traceparent(head.traceparent)
    headers = upstream_headers(
        head.headers,
        client_host=head.client,
        scheme=scheme,
        trusted=trusted,
        upstream_host=None,
        request_id=rid,
        traceparent=tp,
        keep=_UPGRADE_KEEP if head.upgrade else frozenset(),
    )
    return Call(route, name, upstream, path, match, rid, tp, headers)


_UPGRADE_KEEP = frozenset({b"upgrade", b"connection"})


def head_bytes(
    method: bytes,
    call: Call,
    framing: bytes,
    host: bytes | None,
) -> bytes:
    """The request head sent upstream: request line, headers, the framing line(s), the blank line.

    `host` replaces the client's Host when the upstream asks for its own (`host = "upstream"`).
    """
    lines = [method + b" " + call.path + b" HTTP/1.1"]
    for name, value in call.headers:
        if host is not None and name == b"Host":
            value = host
        lines.append(name + b": " + value)
    if framing:
        lines.append(framing)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
