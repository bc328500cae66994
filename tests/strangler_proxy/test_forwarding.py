"""Header rules on the way through, as plain functions."""

from __future__ import annotations

from strangler_proxy.forwarding import (
    TrustedHops,
    request_id,
    response_headers,
    traceparent,
    upstream_headers,
)


def forward(headers, client="203.0.113.9", trusted=(), upstream_host=None):
    out = upstream_headers(
        [(k.encode(), v.encode()) for k, v in headers],
        client_host=client,
        scheme="https",
        trusted=TrustedHops(trusted),
        upstream_host=upstream_host,
        request_id="rid",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    return out


def values(out, name):
    return [v for k, v in out if k.lower() == name.lower()]


def test_hop_by_hop_headers_and_those_named_in_connection_are_dropped():
    out = forward([("host", "shop"), ("connection", "keep-alive, X-Secret"), ("x-secret", "1"),
                   ("keep-alive", "5"), ("te", "trailers"), ("upgrade", "h2c"), ("accept", "*/*")])  # fmt: skip
    names = {k.lower() for k, _ in out}
    assert not names & {"connection", "x-secret", "keep-alive", "te", "upgrade"}
    assert values(out, "accept") == ["*/*"]


def test_forwarded_headers_from_an_untrusted_client_are_replaced():
    out = forward([("host", "shop"), ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-proto", "http"),
                   ("x-forwarded-host", "evil"), ("forwarded", "for=1.2.3.4")])  # fmt: skip
    assert values(out, "x-forwarded-for") == ["203.0.113.9"]
    assert values(out, "x-forwarded-proto") == ["https"]
    assert values(out, "x-forwarded-host") == ["shop"]
    assert values(out, "forwarded") == []


def test_forwarded_headers_from_a_trusted_hop_are_extended():
    out = forward(
        [("host", "shop"), ("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "https"),
         ("x-forwarded-host", "shop.example")],
        client="10.1.2.3", trusted=["10.0.0.0/8"],
    )  # fmt: skip
    assert values(out, "x-forwarded-for") == ["198.51.100.7, 10.1.2.3"]
    assert values(out, "x-forwarded-host") == ["shop.example"]


def test_host_is_the_clients_unless_the_upstream_asks_for_its_own():
    assert values(forward([("host", "shop")]), "host") == ["shop"]
    assert values(forward([("host", "shop")], upstream_host="10.0.0.5:8200"), "host") == [
        "10.0.0.5:8200"
    ]


def test_duplicate_request_headers_pass_as_they_came():
    out = forward([("host", "h"), ("x-tag", "a"), ("x-tag", "b")])
    assert values(out, "x-tag") == ["a", "b"]


def test_request_id_is_kept_when_sane_and_made_when_not():
    assert request_id([(b"x-request-id", b"abc-123")]) == "abc-123"
    made = request_id([(b"x-request-id", b"bad id\r\n")])
    assert len(made) == 32 and made != request_id([])


def test_traceparent_keeps_the_trace_and_makes_a_new_span():
    incoming = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    out = traceparent([(b"traceparent", incoming)])
    version, trace, span, flags = out.split("-")
    assert (version, trace, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "01")
    assert span != "b7ad6b7169203331" and len(span) == 16


def test_a_malformed_traceparent_starts_a_new_trace():
    out = traceparent([(b"traceparent", b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01")])
    assert out.split("-")[1] != "0" * 32


def test_response_headers_drop_hop_by_hop_and_keep_every_set_cookie():
    out = response_headers([(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"Connection", b"close, X-Drop"),
                            (b"X-Drop", b"1"), (b"Transfer-Encoding", b"chunked"), (b"Content-Type", b"text/plain")])  # fmt: skip
    assert out == [
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"content-type", b"text/plain"),
    ]
