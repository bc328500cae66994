"""Header rules on the way through, as plain functions over header bytes."""

from __future__ import annotations

from strangler_proxy.forwarding import (
    TrustedHops,
    request_id,
    response_headers,
    traceparent,
    upstream_headers,
)


def forward(headers, client="203.0.113.9", trusted=(), upstream_host=None, keep=frozenset()):
    out = upstream_headers(
        [(k.encode(), v.encode("latin-1")) for k, v in headers],
        client_host=client,
        scheme="https",
        trusted=TrustedHops(trusted),
        upstream_host=upstream_host.encode() if upstream_host else None,
        request_id=b"rid",
        traceparent=b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01",
        keep=keep,
    )
    return [(k.decode(), v.decode("latin-1")) for k, v in out]


def values(out, name):
    return [v for k, v in out if k.lower() == name.lower()]


def test_hop_by_hop_headers_and_those_named_in_connection_are_dropped():
    out = forward([("host", "shop"), ("connection", "keep-alive, X-Secret"), ("x-secret", "1"),
                   ("keep-alive", "5"), ("te", "trailers"), ("upgrade", "h2c"), ("accept", "*/*"),
                   ("expect", "100-continue"), ("proxy-connection", "keep-alive")])  # fmt: skip
    names = {k.lower() for k, _ in out}
    assert not names & {
        "connection",
        "x-secret",
        "keep-alive",
        "te",
        "upgrade",
        "expect",
        "proxy-connection",
    }
    assert values(out, "accept") == ["*/*"]


def test_connection_cannot_strip_host_or_the_framing():
    out = forward(
        [("host", "shop"), ("connection", "host, content-type"), ("content-type", "text/plain")]
    )
    assert values(out, "host") == ["shop"]
    assert values(out, "content-type") == ["text/plain"]


def test_client_address_headers_from_an_untrusted_client_are_replaced_or_dropped():
    out = forward([("host", "shop"), ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-proto", "http"),
                   ("x-forwarded-host", "evil"), ("forwarded", "for=1.2.3.4"),
                   ("x-forwarded-port", "1"), ("x-forwarded-prefix", "/evil"), ("x-real-ip", "6.6.6.6"),
                   ("true-client-ip", "6.6.6.6"), ("cf-connecting-ip", "6.6.6.6")])  # fmt: skip
    assert values(out, "x-forwarded-for") == ["203.0.113.9"]
    assert values(out, "x-forwarded-proto") == ["https"]
    assert values(out, "x-forwarded-host") == ["shop"]
    for name in ("forwarded", "x-forwarded-port", "x-forwarded-prefix", "x-real-ip", "true-client-ip",
                 "cf-connecting-ip"):  # fmt: skip
        assert values(out, name) == [], name


def test_forwarded_headers_from_a_trusted_hop_are_extended():
    out = forward(
        [("host", "shop"), ("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "https"),
         ("x-forwarded-host", "shop.example"), ("x-real-ip", "198.51.100.7")],
        client="10.1.2.3", trusted=["10.0.0.0/8"],
    )  # fmt: skip
    assert values(out, "x-forwarded-for") == ["198.51.100.7, 10.1.2.3"]
    assert values(out, "x-forwarded-host") == ["shop.example"]
    assert values(out, "x-real-ip") == ["198.51.100.7"]


def test_host_is_the_clients_unless_the_upstream_asks_for_its_own():
    assert values(forward([("host", "shop")]), "host") == ["shop"]
    assert values(forward([("host", "shop")], upstream_host="10.0.0.5:8200"), "host") == [
        "10.0.0.5:8200"
    ]


def test_duplicate_request_headers_pass_as_they_came():
    out = forward([("host", "h"), ("x-tag", "a"), ("x-tag", "b")])
    assert values(out, "x-tag") == ["a", "b"]


def test_non_ascii_header_bytes_pass_unchanged():
    out = upstream_headers(
        [(b"Host", b"h"), (b"X-Name", b"caf\xc3\xa9 \xff")],
        client_host="1.2.3.4", scheme="http", trusted=TrustedHops(), upstream_host=None,
        request_id=b"r", traceparent=b"t",
    )  # fmt: skip
    assert (b"X-Name", b"caf\xc3\xa9 \xff") in out


def test_upgrade_headers_pass_only_when_asked():
    asked = [("host", "h"), ("connection", "Upgrade"), ("upgrade", "websocket")]
    assert values(forward(asked), "upgrade") == []
    kept = forward(asked, keep=frozenset({b"upgrade", b"connection"}))
    assert values(kept, "upgrade") == ["websocket"] and values(kept, "connection") == ["Upgrade"]


def test_request_id_is_kept_when_sane_and_made_when_not():
    assert request_id(b"abc-123") == b"abc-123"
    made = request_id(b"bad id\r\n")
    assert len(made) == 32 and made != request_id(None)


def test_traceparent_keeps_the_trace_and_makes_a_new_span():
    incoming = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    version, trace, span, flags = traceparent(incoming).split(b"-")
    assert (version, trace, flags) == (b"00", b"0af7651916cd43dd8448eb211c80319c", b"01")
    assert span != b"b7ad6b7169203331" and len(span) == 16


def test_a_malformed_traceparent_starts_a_new_trace():
    out = traceparent(b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01")
    assert out.split(b"-")[1] != b"0" * 32


def test_response_headers_drop_hop_by_hop_and_framing_and_keep_every_set_cookie():
    out = response_headers([(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"Connection", b"close, X-Drop"),
                            (b"X-Drop", b"1"), (b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"3"),
                            (b"Content-Type", b"text/plain")])  # fmt: skip
    assert out == [
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Content-Type", b"text/plain"),
    ]


def test_header_names_with_underscores_are_dropped_so_they_cannot_pose_as_rebuilt_ones():
    out = forward([("host", "h"), ("x_forwarded_for", "6.6.6.6"), ("x_custom", "1"), ("x-ok", "1")])
    names = {k.lower() for k, _ in out}
    assert "x_forwarded_for" not in names and "x_custom" not in names and "x-ok" in names
