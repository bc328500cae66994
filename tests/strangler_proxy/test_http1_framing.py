"""HTTP/1.1 on the wire through the data path: framing, protocol switches, bounded waits.

Raw sockets where a client library would hide the bytes; every read has a timeout.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httptools
import httpx
import pytest

from tests.strangler_proxy.test_proxying import cut_over


def connect(proxy) -> socket.socket:
    host, port = proxy.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    s.settimeout(5)
    return s


class Responses:
    """Reads whole responses off a socket with httptools, in order."""

    def __init__(self, sock: socket.socket, head: bool = False) -> None:
        self.sock = sock
        self.done: list[dict] = []
        self._current: dict = {}
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self._current = {"headers": {}, "body": b""}

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current["headers"][name.decode().lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._current["status"] = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._current["body"] += body

    def on_message_complete(self) -> None:
        self.done.append(self._current)

    def read(self, n: int, seconds: float = 5) -> list[dict]:
        deadline = time.monotonic() + seconds
        while len(self.done) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(self.done)} of {n} responses in {seconds} s")
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                break
            self._parser.feed_data(data)
        return self.done


def closed_after(sock: socket.socket, seconds: float = 3) -> bool:
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def one_response(proxy, raw: bytes) -> tuple[dict, bool]:
    with connect(proxy) as s:
        s.sendall(raw)
        reader = Responses(s)
        got = reader.read(1)
        return got[0], reader.closed or closed_after(s)


def test_expect_100_continue_is_answered_by_the_proxy_and_not_forwarded(proxy):
    with connect(proxy) as s:
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: shop\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        assert s.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        echo = json.loads(Responses(s).read(1)[0]["body"])
    assert echo["body_length"] == 5
    assert "expect" not in {k for k, _ in echo["headers"]}


def test_pipelined_requests_are_answered_in_order_each_with_its_own_response(proxy):
    requests = b"".join(b"GET /echo?i=%d HTTP/1.1\r\nHost: shop\r\n\r\n" % i for i in range(8))
    requests += b"POST /echo?i=8 HTTP/1.1\r\nHost: shop\r\nContent-Length: 3\r\n\r\nabc"
    with connect(proxy) as s:
        s.sendall(requests)
        got = Responses(s).read(9)
    assert [json.loads(r["body"])["query"] for r in got] == [f"i={i}" for i in range(9)]
    assert json.loads(got[-1]["body"])["body_length"] == 3


@pytest.mark.parametrize(
    "raw",
    [
        b"get /echo HTTP/1.1\r\nHost: shop\r\n\r\n",  # methods are case-sensitive (RFC 9110 9.1)
        b"GET /echo HTTP/1.1\r\n\r\n",  # no Host
        b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  # two Hosts
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",  # obs-fold
        b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Bad: a\x00b\r\n\r\n",
        b"GET /echo HTTP/1.1\nHost: a\n\n",  # bare LF
        b"GET /echo\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    ],
    ids=[
        "lower-case-method",
        "no-host",
        "two-hosts",
        "cl-and-te",
        "two-lengths",
        "obs-fold",
        "nul-in-value",
        "bare-lf",
        "nul-in-target",
        "bad-chunk-size",
    ],  # fmt: skip
)
def test_malformed_requests_get_a_400_that_closes_the_connection(proxy, raw):
    response, closed = one_response(proxy, raw)
    assert response["status"] == 400, response
    assert json.loads(response["body"])["error"] == "bad_request"
    assert closed


def test_an_unknown_transfer_coding_is_501(proxy):
    response, closed = one_response(
        proxy, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"
    )
    assert response["status"] in (400, 501) and closed


def test_too_many_or_too_large_headers_are_431(start_proxy):
    proxy = start_proxy(max_headers=10, max_header_size=2048)
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(11))
    response, closed = one_response(proxy, b"GET /echo HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n")
    assert response["status"] == 431 and closed
    big = b"X-Big: " + b"a" * 3000 + b"\r\n"
    response, closed = one_response(proxy, b"GET /echo HTTP/1.1\r\nHost: a\r\n" + big + b"\r\n")
    assert response["status"] == 431 and closed
    # an unfinished header line that never ends is cut too, not buffered without bound
    with connect(proxy) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Endless: ")
        for _ in range(10):
            s.sendall(b"a" * 1024)
            time.sleep(0.01)
        got = Responses(s).read(1)
    assert got[0]["status"] == 431


def test_path_bytes_pass_unchanged_and_dot_segments_are_resolved(proxy):
    response, _ = one_response(
        proxy, b"GET /echo/%ff%FE/caf%C3%A9?x=%ff HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    echo = json.loads(response["body"])
    assert echo["raw_path"] == "/echo/%ff%FE/caf%C3%A9"
    assert echo["query"] == "x=%ff"
    response, _ = one_response(proxy, b"GET /a/b/%2e%2e/../echo HTTP/1.1\r\nHost: a\r\n\r\n")
    assert json.loads(response["body"])["raw_path"] == "/echo"


def test_connection_options_cannot_strip_host(proxy):
    response, _ = one_response(
        proxy, b"GET /echo HTTP/1.1\r\nHost: shop.example\r\nConnection: host\r\n\r\n"
    )
    assert dict(json.loads(response["body"])["headers"])["host"] == "shop.example"


def test_a_header_route_matches_only_on_headers_the_upstream_will_see(proxy):
    cut_over(proxy, "beta", "/echo", header="X-Beta: 1")
    seen, _ = one_response(proxy, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Beta: 1\r\n\r\n")
    hidden, _ = one_response(
        proxy, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Beta: 1\r\nConnection: x-beta\r\n\r\n"
    )
    assert seen["headers"]["x-upstream"] == "catalog"
    assert hidden["headers"]["x-upstream"] == "monolith"


def test_non_ascii_header_bytes_reach_the_upstream_unchanged(proxy):
    response, _ = one_response(
        proxy, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n"
    )
    # the echo upstream decodes header bytes as latin-1: UTF-8 bytes come back as their latin-1 reading
    assert dict(json.loads(response["body"])["headers"])["x-name"] == "caf\xc3\xa9"


@pytest.mark.parametrize("code", [204, 304])
def test_responses_without_a_body_keep_the_connection_in_step(proxy, code):
    with connect(proxy) as s:
        s.sendall(
            b"GET /status?code=%d HTTP/1.1\r\nHost: a\r\n\r\nGET /echo?after HTTP/1.1\r\nHost: a\r\n\r\n"
            % code
        )
        first, second = Responses(s).read(2)
    assert first["status"] == code and first["body"] == b""
    assert json.loads(second["body"])["query"] == "after"


def test_head_keeps_the_length_and_sends_no_body(proxy):
    with connect(proxy) as s:
        s.sendall(
            b"HEAD /sized?n=5000 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo?after HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        s.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length: 5000" in head.lower()
    assert rest.startswith(b"HTTP/1.1 200")  # no body bytes between the two responses


def test_server_sent_events_arrive_as_they_are_sent(proxy):
    started = time.monotonic()
    arrivals = []
    with httpx.stream("GET", f"{proxy.url}/sse?n=3&gap=0.4", timeout=5) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 3
    assert arrivals[0] < 0.3, f"first event held back {arrivals[0]:.2f} s"


def test_a_websocket_is_spliced_after_the_101(proxy):
    from websockets.sync.client import connect as ws_connect

    with ws_connect(
        proxy.url.replace("http://", "ws://") + "/ws", open_timeout=5, close_timeout=2
    ) as ws:
        for text in ("hello", "x" * 100_000, "bye"):
            ws.send(text)
            assert ws.recv(timeout=5) == text


def test_a_busy_pool_answers_503_within_pool_timeout(start_proxy):
    proxy = start_proxy(upstream_options={"monolith": {"max_connections": 1, "pool_timeout": 0.3}})
    slow = threading.Thread(target=lambda: httpx.get(f"{proxy.url}/slow?s=1.5", timeout=5))
    slow.start()
    time.sleep(0.3)
    started = time.monotonic()
    busy = httpx.get(f"{proxy.url}/echo", timeout=5)
    waited = time.monotonic() - started
    slow.join()
    assert busy.status_code == 503 and busy.json()["error"] == "upstream_busy"
    assert waited < 1.0
    assert httpx.get(f"{proxy.url}/echo", timeout=5).status_code == 200  # the slot came back


def test_a_slow_request_head_is_cut_with_408(start_proxy):
    proxy = start_proxy(header_timeout=0.5)
    with connect(proxy) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        got = Responses(s).read(1, seconds=3)
    assert got[0]["status"] == 408 and time.monotonic() - started < 2


def test_a_stalled_request_body_is_cut_and_never_blamed_on_the_upstream(start_proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    proxy = start_proxy(body_timeout=0.5, access_log=str(log))
    with connect(proxy) as s:
        s.sendall(
            b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nX-Request-ID: stalled\r\n\r\nabc"
        )
        got = Responses(s).read(1, seconds=3)
    assert got[0]["status"] == 408
    assert _logged(log, "stalled")["status"] == 408


def test_an_idle_keep_alive_connection_is_closed(start_proxy):
    proxy = start_proxy(keepalive_timeout=0.5)
    with connect(proxy) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
        Responses(s).read(1)
        assert closed_after(s, 3)


def test_a_client_aborting_mid_upload_is_499_not_an_upstream_error(start_proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    proxy = start_proxy(access_log=str(log))
    with connect(proxy) as s:
        s.sendall(
            b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\nX-Request-ID: leaver\r\n\r\n"
        )
        s.sendall(b"x" * 100_000)
        time.sleep(0.2)
    assert _logged(log, "leaver")["status"] == 499
    assert not proxy.app.metrics._errors, proxy.app.metrics._errors
    assert httpx.get(f"{proxy.url}/echo").status_code == 200


def test_the_public_error_body_names_the_upstream_not_its_address(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{_closed_port()}"
    proxy = start_proxy(upstream_urls={**upstreams, "monolith": dead})
    resp = httpx.get(f"{proxy.url}/echo")
    assert resp.status_code == 502
    assert "127.0.0.1" not in resp.text and dead.rsplit(":", 1)[1] not in resp.text
    assert "monolith" in resp.json()["detail"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _logged(log, request_id: str, seconds: float = 5) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text().splitlines():
                record = json.loads(line)
                if record["request_id"] == request_id:
                    return record
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id} in {seconds} s")


def test_an_absolute_form_target_is_served_with_its_authority_as_host(proxy):
    response, _ = one_response(
        proxy, b"GET http://shop.example/echo?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n"
    )
    echo = json.loads(response["body"])
    assert echo["raw_path"] == "/echo" and echo["query"] == "x=1"
    assert dict(echo["headers"])["host"] == "shop.example"


def test_an_encoded_slash_is_matched_as_django_resolves_it(proxy):
    cut_over(proxy, "nested", "/api/catalog/items/*")
    response, _ = one_response(proxy, b"GET /api/catalog%2Fitems/1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert response["headers"]["x-upstream"] == "catalog"


def test_a_response_in_several_parts_is_not_held_back_by_nagle(proxy):
    # An answer that reaches the proxy in several reads is written to the client in several
    # writes: without TCP_NODELAY each later write waits for the client's delayed ACK (40 ms).
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        took = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/sse", params={"n": 3, "gap": 0.001}).text.count("data:") == 3
            took.append(time.perf_counter() - started)
    assert sorted(took)[len(took) // 2] < 0.03, (
        f"median {sorted(took)[len(took) // 2] * 1000:.0f} ms"
    )


def test_a_connection_paused_for_a_slow_client_is_not_pooled_paused(upstreams):
    # An exchange can end in the read that paused its upstream connection (the client fell
    # behind on the last bytes); back in the pool, that connection must read again, or the
    # next exchange on it never sees its response.
    import asyncio

    import uvloop

    from strangler_proxy.config import UpstreamConfig
    from strangler_proxy.upstreams import Upstream

    async def main() -> tuple[bool, bool]:
        upstream = Upstream("monolith", UpstreamConfig(urls=[upstreams["monolith"]]))
        upstream.start(asyncio.get_running_loop())
        pool = upstream.pick()
        conn = await pool.acquire()
        conn.pause_reading()
        pool.release(conn, True)
        again = await pool.acquire()
        reading = again is conn and again.transport.is_reading()
        upstream.close()
        await asyncio.sleep(0)
        return reading, again.reading_paused

    reading, flagged = uvloop.run(main())
    assert reading and not flagged


@pytest.mark.parametrize(
    "policy",
    [
        {"mode": "monolith"},
        {"mode": "shadow"},
        {"mode": "canary", "options": {"canary": {"percent": 100}}},
        {"mode": "service"},
    ],
    ids=["monolith", "shadow", "canary", "service"],
)
def test_websockets_and_event_streams_work_in_every_mode(proxy, policy):
    from websockets.sync.client import connect as ws_connect

    cut_over(proxy, "everything", "/*", policy=policy)
    served_by = "monolith" if policy["mode"] in ("monolith", "shadow") else "catalog"
    with httpx.stream("GET", f"{proxy.url}/sse?n=3&gap=0.05", timeout=5) as resp:
        assert resp.headers["x-upstream"] == served_by
        assert [line for line in resp.iter_lines() if line.startswith("data:")] == [
            "data: 0",
            "data: 1",
            "data: 2",
        ]
    with ws_connect(
        proxy.url.replace("http://", "ws://") + "/ws", open_timeout=5, close_timeout=2
    ) as ws:
        assert ws.response.headers["x-figkit-upstream"] == served_by
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
