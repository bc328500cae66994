"""What a proxy must do to headers on the way through (RFC 9110 section 7.6, RFC 7239, W3C).

Plain functions over ASGI header lists, so every rule is tested without a socket.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from random import getrandbits

# Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the proxy itself; a client's copy is dropped unless it came through a trusted hop.
_FORWARDED = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
_REQUEST_ID_RE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT_RE = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class TrustedHops:
    """The networks whose X-Forwarded-* headers are believed (your load balancers)."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def __contains__(self, host: str | None) -> bool:
        if not self.networks or not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens)


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID if it is sane, else a new one.

    Ids come from `random`, not `os.urandom` (a syscall each, 3% of a worker's time):
    they must be unique, not unguessable.
    """
    for name, value in headers:
        if name == b"x-request-id" and _REQUEST_ID_RE.fullmatch(value):
            return value.decode("ascii")
    return f"{getrandbits(128):032x}"


def traceparent(headers: list[tuple[bytes, bytes]]) -> str:
    """A W3C traceparent for the upstream call: same trace, the proxy's own span id."""
    for name, value in headers:
        if name == b"traceparent":
            m = _TRACEPARENT_RE.fullmatch(value.strip())
            if m and m.group(1) != b"0" * 32 and m.group(2) != b"0" * 16:
                return f"00-{m.group(1).decode()}-{getrandbits(64):016x}-{m.group(3).decode()}"
            break
    return f"00-{getrandbits(128):032x}-{getrandbits(64):016x}-01"


def upstream_headers(
    headers: list[tuple[bytes, bytes]],
    *,
    client_host: str | None,
    scheme: str,
    trusted: TrustedHops,
    upstream_host: str | None,
    request_id: str,
    traceparent: str,
) -> list[tuple[str, str]]:
    """The request headers to send upstream.

    `upstream_host` replaces Host when the upstream asks for its own host; None keeps
    the client's. X-Forwarded-For/Proto/Host are rebuilt from what the proxy saw, and
    extended only when the direct client is a trusted hop.
    """
    drop = (
        HOP_BY_HOP | _connection_tokens(headers)
        if any(n == b"connection" for n, _ in headers)
        else HOP_BY_HOP
    )
    from_trusted = client_host in trusted
    out: list[tuple[str, str]] = []
    host = xff = xfp = xfh = None
    for name, value in headers:
        if name in drop:
            continue
        if name == b"host":
            host = value.decode("latin-1")
            continue
        if name in _FORWARDED:
            if from_trusted:
                text = value.decode("latin-1")
                if name == b"x-forwarded-for":
                    xff = text if xff is None else f"{xff}, {text}"
                elif name == b"x-forwarded-proto":
                    xfp = text
                elif name == b"x-forwarded-host":
                    xfh = text
                else:
                    out.append(("Forwarded", text))
            continue
        if name in (b"x-request-id", b"traceparent"):
            continue
        out.append((name.decode("latin-1"), value.decode("latin-1")))
    client = client_host or "unknown"
    out.append(("Host", upstream_host or host or ""))
    out.append(("X-Forwarded-For", f"{xff}, {client}" if xff else client))
    out.append(("X-Forwarded-Proto", xfp or scheme))
    if xfh or host:
        out.append(("X-Forwarded-Host", xfh or host))  # type: ignore[arg-type]
    out.append(("X-Request-ID", request_id))
    out.append(("traceparent", traceparent))
    return out


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers minus hop-by-hop ones; duplicates (Set-Cookie) kept."""
    lowered = [(name.lower(), value) for name, value in raw]
    drop = HOP_BY_HOP
    if any(name == b"connection" for name, _ in lowered):
        drop = HOP_BY_HOP | _connection_tokens(lowered)
    return [(name, value) for name, value in lowered if name not in drop]
