"""What a proxy must do to headers on the way through (RFC 9110 section 7.6, RFC 7239, W3C).

Plain functions over header lists as they come off the wire, `[(name, value)]` in bytes,
names in the case the peer sent them. Bytes pass through unchanged (a non-ASCII value
reaches the upstream as the client sent it); every rule is tested without a socket.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from random import getrandbits

Headers = list[tuple[bytes, bytes]]

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
        b"expect",  # the proxy answers 100-continue itself; the upstream gets the body
    }
)
# A `Connection: host` (or content-length) must not strip what the message needs: these
# are never dropped because the client listed them as connection options.
_NOT_CONNECTION_OPTIONS = frozenset({b"host", b"content-length", b"content-type"})
# Client-address headers: set by the proxy itself, or believed only from a trusted hop.
# Besides X-Forwarded-*, frameworks and CDNs read these as "the client's address".
CLIENT_ADDRESS = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-server",
        b"x-forwarded-ssl",
        b"x-forwarded-scheme",
        b"forwarded",
        b"x-real-ip",
        b"true-client-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
    }
)
_REQUEST_ID_RE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT_RE = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class TrustedHops:
    """The networks whose X-Forwarded-* headers are believed (your load balancers)."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self._seen: dict[str, bool] = {}

    def __contains__(self, host: str | None) -> bool:
        if not self.networks or not host:
            return False
        known = self._seen.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                known = False
            else:
                known = any(address in net for net in self.networks)
            if len(self._seen) < 4096:
                self._seen[host] = known
        return known


def connection_options(headers: Headers) -> frozenset[bytes]:
    """The header names a Connection header lists (lower case), minus those never dropped."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens - _NOT_CONNECTION_OPTIONS)


def request_id(value: bytes | None) -> bytes:
    """The client's X-Request-ID if it is sane, else a new one.

    Ids come from `random`, not `os.urandom` (a syscall each, 3% of a worker's time):
    they must be unique, not unguessable.
    """
    if value is not None and _REQUEST_ID_RE.fullmatch(value):
        return value
    return b"%032x" % getrandbits(128)


def traceparent(value: bytes | None) -> bytes:
    """A W3C traceparent for the upstream call: same trace, the proxy's own span id."""
    if value is not None:
        m = _TRACEPARENT_RE.fullmatch(value.strip())
        if m and m.group(1) != b"0" * 32 and m.group(2) != b"0" * 16:
            return b"00-%s-%016x-%s" % (m.group(1), getrandbits(64), m.group(3))
    return b"00-%032x-%016x-01" % (getrandbits(128), getrandbits(64))


def upstream_headers(
    headers: Headers,
    *,
    client_host: str | None,
    scheme: str,
    trusted: TrustedHops,
    upstream_host: bytes | None,
    request_id: bytes,
    traceparent: bytes,
    keep: frozenset[bytes] = frozenset(),
) -> Headers:
    """The request headers to send upstream, minus framing (the caller adds that).

    `upstream_host` replaces Host when the upstream asks for its own host; None keeps
    the client's. X-Forwarded-For/Proto/Host are rebuilt from what the proxy saw, and
    extended only when the direct client is a trusted hop. `keep` names hop-by-hop
    headers to pass anyway (Upgrade and Connection on a WebSocket handshake).
    """
    drop = HOP_BY_HOP | connection_options(headers) if _has(headers, b"connection") else HOP_BY_HOP
    if keep:
        drop = drop - keep
    from_trusted = client_host in trusted
    out: Headers = []
    host = xff = xfp = xfh = None
    for name, value in headers:
        lower = name.lower()
        if lower in drop or lower == b"content-length":
            continue
        if b"_" in lower:
            # As nginx does by default: WSGI reads X_Forwarded_For as X-Forwarded-For, so a
            # name with an underscore could spoof any header this function rebuilds.
            continue
        if lower == b"host":
            host = value
            continue
        if lower in CLIENT_ADDRESS:
            if from_trusted:
                if lower == b"x-forwarded-for":
                    xff = value if xff is None else xff + b", " + value
                elif lower == b"x-forwarded-proto":
                    xfp = value
                elif lower == b"x-forwarded-host":
                    xfh = value
                else:
                    out.append((name, value))
            continue
        if lower == b"x-request-id" or lower == b"traceparent":
            continue
        out.append((name, value))
    client = (client_host or "unknown").encode()
    out.append((b"Host", upstream_host or host or b""))
    out.append((b"X-Forwarded-For", xff + b", " + client if xff else client))
    out.append((b"X-Forwarded-Proto", xfp or scheme.encode()))
    if xfh or host:
        out.append((b"X-Forwarded-Host", xfh or host))  # type: ignore[arg-type]
    out.append((b"X-Request-ID", request_id))
    out.append((b"traceparent", traceparent))
    return out


def response_headers(
    raw: Iterable[tuple[bytes, bytes]], keep: frozenset[bytes] = frozenset()
) -> Headers:
    """The upstream's response headers minus hop-by-hop and framing ones; duplicates (Set-Cookie) kept.

    Content-Length is dropped too: the data path writes the framing it uses itself. One
    pass over the headers (this runs on every response); a second only when a Connection
    header names options to drop beyond keep-alive and close.
    """
    drop = _RESPONSE_DROP - keep if keep else _RESPONSE_DROP
    out: Headers = []
    options: set[bytes] | None = None
    for name, value in raw:
        lower = name.lower()
        if lower == b"connection":
            tokens = value.lower()
            if tokens != b"keep-alive" and tokens != b"close":
                named = {t.strip() for t in tokens.split(b",")} - _NOT_CONNECTION_OPTIONS
                named.discard(b"")
                options = named if options is None else options | named
        if lower in drop:
            continue
        out.append((name, value))
    if options:
        options -= keep
        if options:
            out = [(n, v) for n, v in out if n.lower() not in options]
    return out


_RESPONSE_DROP = HOP_BY_HOP | {b"content-length"}


def _has(headers: Headers, wanted: bytes) -> bool:
    return any(name.lower() == wanted for name, _ in headers)
