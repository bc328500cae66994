"""Fuzzing the data path's framing with hypothesis: smuggling attempts and broken messages.

Each example sends generated raw bytes on a fresh connection to a real worker in front of
an upstream that records exactly what reaches it. Whatever the bytes:
- the worker keeps serving (a plain GET works afterwards);
- every complete request the upstream receives is one the proxy answered with the
  upstream's response, in the same number, and the upstream's own strict parser never sees
  garbage: no second request can be smuggled past the proxy's framing;
- a request whose body the client never finishes may reach the upstream unfinished (the
  proxy streams, it does not buffer bodies), but its answer is then the proxy's own 4xx
  (408 or 400), never the upstream's;
- a refusal is a 4xx or 501, never a 5xx that blames an upstream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strangler_proxy.recording_upstream import RecordingUpstream

SMUGGLED = b"GET /r/echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
EXAMPLES = int(150 * float(os.environ.get("FIGKIT_PROPERTY_SCALE", "1")))

FRAMING = [
    b"Content-Length: %d",
    b"Content-Length: %d\r\nContent-Length: %d",
    b"Content-Length: %d, %d",
    b"Content-Length: +%d",
    b"Content-Length: -1",
    b"Content-Length: 99999999999999999999",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: chunked\r\nContent-Length: %d",
    b"Content-Length: %d\r\nTransfer-Encoding: chunked",
    b"Transfer-Encoding: Chunked",
    b"Transfer-Encoding: xchunked",
    b"Transfer-Encoding: chunked, identity",
    b"Transfer-Encoding: identity, chunked",
    b"Transfer-Encoding : chunked",
    b"Transfer-Encoding:\tchunked",
    b"Transfer-Encoding: \x0bchunked",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    b"Transfer-Encoding:\r\n chunked",
    b"X-Fold: a\r\n b",
    b"X-Nul: a\x00b",
    b"X-Cr: a\rb",
    b"X_Under: 1",
    b"",
]
BODIES = [
    b"",
    b"abc",
    SMUGGLED,
    b"0\r\n\r\n" + SMUGGLED,
    b"3\r\nabc\r\n0\r\n\r\n",
    b"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
    b"zz\r\nabc\r\n0\r\n\r\n",
    b"5\r\nabc\r\n0\r\n\r\n" + SMUGGLED,
    b"3\nabc\n0\n\n",
]


AFTER = b"GET /r/echo/after HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def recorder():
    rec = RecordingUpstream().start()
    yield rec
    late = rec.take()
    rec.stop()
    assert not late, f"reached the upstream after the last example was checked: {late}"


@pytest.fixture
def fuzz_proxy(start_proxy, recorder, upstreams):
    # An idle connection is closed after 0.5 s, as a stalled head or body is: the exchange then
    # ends at the proxy's close rather than at the client's 1.5 s of quiet.
    return start_proxy(
        upstream_urls={**upstreams, "monolith": recorder.url},
        header_timeout=0.5,
        body_timeout=0.5,
        keepalive_timeout=0.5,
        max_header_size=4096,
        max_headers=30,
    )


@st.composite
def raw_requests(draw) -> bytes:
    parts = []
    for i in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"get", b"G\x00T"]))
        framing = draw(st.sampled_from(FRAMING))
        body = draw(st.sampled_from(BODIES))
        if b"%d" in framing:
            length = draw(st.sampled_from([len(body), 0, 3, len(body) + 5]))
            framing = framing.replace(b"%d", b"%d" % length)
        eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r"]))
        head = [method + b" /r/echo/m%d HTTP/1.1" % i, b"Host: shop"]
        if framing:
            head.append(framing)
        if draw(st.booleans()):
            head.append(b"X-Pad: " + b"p" * draw(st.sampled_from([10, 5000])))
        message = eol.join(head) + eol + eol + body
        if draw(st.integers(0, 9)) == 0:
            message = message[: draw(st.integers(0, len(message)))]  # truncated
        parts.append(message)
    return b"".join(parts)


def _exchange(port: int, data: bytes) -> list[tuple[int, dict]]:
    """Send the bytes, read what comes back until the proxy closes or goes quiet."""
    responses: list[tuple[int, dict]] = []

    class Reader:
        headers: dict = {}

        def on_message_begin(self):
            self.headers = {}

        def on_header(self, name, value):
            self.headers[name.lower()] = value

        def on_message_complete(self):
            responses.append((parser.get_status_code(), self.headers))

    parser = httptools.HttpResponseParser(Reader())
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        with contextlib.suppress(OSError):
            s.sendall(data)
        s.settimeout(1.5)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as exc:
                raise AssertionError(f"the proxy sent a malformed response: {exc}") from None
    return responses


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=raw_requests())
def test_no_request_is_smuggled_and_no_answer_desynchronises(fuzz_proxy, recorder, data):
    port = int(fuzz_proxy.url.rsplit(":", 1)[1])
    late = recorder.take()
    assert not late, f"reached the upstream after the example that sent it was checked: {late}"
    try:
        responses = _exchange(port, data)
        # The worker still serves. Its answer is also the barrier for what the upstream got:
        # by then the upstream has read what the proxy sent it before; anything later is
        # caught as a late arrival at the next example (or at the end).
        after = _exchange(port, AFTER)
        assert [s for s, _ in after] == [200]
    except BaseException:
        recorder.take()  # a failing example's leftovers are not the next one's late arrivals
        raise
    received = [r for r in recorder.take() if r.target != b"/r/echo/after"]
    assert not [r for r in received if r.error], f"garbage reached the upstream: {received}"
    from_upstream = [h for _, h in responses if b"x-recorded" in h]
    complete = [r for r in received if r.complete]
    assert len(from_upstream) == len(complete), (data, responses, received)
    if len(complete) < len(received):  # a body the client left unfinished
        assert [s for s, h in responses if b"x-recorded" not in h][-1:] in ([408], [400]), (
            data,
            responses,
        )
    for record in received:
        line = record.method + b" " + record.target + b" HTTP/1.1"
        assert data.startswith(line) or b"\n" + line in data, f"{line!r} was not a request line"
    for status, headers in responses:
        assert status < 500 or status == 501 or b"x-recorded" in headers, (data, status)
