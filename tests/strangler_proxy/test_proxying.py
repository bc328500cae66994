"""The data path against real upstreams on loopback: every proxying rule of issue 4."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import threading
import time

import httpx
import pytest

from strangler_proxy.routing import Route
from tests.strangler_proxy import servers
from tests.strangler_proxy.conftest import upstream_of

# A cut-over route that must never fall back to the monolith (its failures reach the client).
NO_FALLBACK = {"mode": "service", "options": {"fallback": {"methods": []}}}


def cut_over(proxy, name, match, target="catalog", **route):
    mode = {} if "policy" in route else {"mode": "service"}
    with proxy.admin() as admin:
        resp = admin.post("/api/routes", json={"name": name, "match": match, "target": target,
                                                "why": "test", **mode, **route})  # fmt: skip
        assert resp.status_code == 201, resp.text
        proxy.wait_for_version(resp.json()["version"])


def raw_get(url: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET with the path exactly as written (httpx would normalise it first)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def test_unmatched_requests_reach_the_monolith_with_path_query_and_body(proxy):
    resp = httpx.post(f"{proxy.url}/shop/cart/?a=1&b=%20x", content=b"item=5")
    echo = resp.json()
    assert upstream_of(resp) == "monolith"
    assert (echo["method"], echo["path"], echo["query"]) == ("POST", "/shop/cart/", "a=1&b=%20x")
    assert echo["body_sha256"] == hashlib.sha256(b"item=5").hexdigest()


def test_a_cut_over_route_goes_to_its_service_and_a_monolith_mode_route_does_not(proxy):
    cut_over(proxy, "catalog", "/api/catalog/*")
    assert upstream_of(httpx.get(f"{proxy.url}/api/catalog/items/")) == "catalog"
    with proxy.admin() as admin:
        v = admin.patch("/api/routes/catalog", json={"mode": "monolith", "why": "back"}).json()[
            "version"
        ]
    proxy.wait_for_version(v)
    assert upstream_of(httpx.get(f"{proxy.url}/api/catalog/items/")) == "monolith"


def test_dot_segments_cannot_smuggle_a_request_past_a_route(proxy):
    cut_over(proxy, "catalog", "/api/catalog/*")
    status, headers, body = raw_get(proxy.url, "/api/catalog/../../admin/")
    assert headers["x-upstream"] == "monolith" and json.loads(body)["path"] == "/admin/"
    status, headers, body = raw_get(proxy.url, "/admin/%2e%2e/api/catalog/x")
    assert headers["x-upstream"] == "catalog" and json.loads(body)["path"] == "/api/catalog/x"


def test_the_upstream_sees_forwarded_headers_it_can_trust(proxy):
    resp = httpx.get(
        f"{proxy.url}/echo", headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil"}
    )
    got = dict(resp.json()["headers"])
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert got["x-forwarded-proto"] == "http"
    assert got["x-forwarded-host"] == proxy.url.removeprefix("http://")
    assert got["host"] == proxy.url.removeprefix("http://")


def test_a_trusted_hop_extends_x_forwarded_for(start_proxy):
    proxy = start_proxy(trusted_proxies=["127.0.0.0/8"])
    got = dict(
        httpx.get(f"{proxy.url}/echo", headers={"X-Forwarded-For": "198.51.100.7"}).json()[
            "headers"
        ]
    )
    assert got["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"


def test_host_can_be_rewritten_per_upstream(upstreams, start_proxy):
    proxy = start_proxy(upstream_options={"monolith": {"host": "upstream"}})
    got = dict(httpx.get(f"{proxy.url}/echo").json()["headers"])
    assert got["host"] == upstreams["monolith"].removeprefix("http://")
    assert got["x-forwarded-host"] == proxy.url.removeprefix("http://")


def test_hop_by_hop_headers_are_dropped_both_ways(proxy):
    status, headers, body = raw_get(proxy.url, "/echo", {"Connection": "keep-alive, X-Private", "X-Private": "1",
                                                         "Keep-Alive": "timeout=5", "TE": "trailers"})  # fmt: skip
    sent = {k for k, _ in json.loads(body)["headers"]}
    assert not sent & {"x-private", "keep-alive", "te"}
    resp = httpx.get(f"{proxy.url}/hop")
    assert "x-private" not in resp.headers and "keep-alive" not in resp.headers


def test_redirects_are_passed_back_not_followed(proxy):
    resp = httpx.get(f"{proxy.url}/redirect")
    assert resp.status_code == 302 and resp.headers["location"] == "/echo"


def test_every_set_cookie_header_is_kept(proxy):
    resp = httpx.get(f"{proxy.url}/cookies")
    assert resp.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_cookies_of_one_client_never_reach_another(proxy):
    httpx.get(f"{proxy.url}/cookies")
    got = dict(httpx.get(f"{proxy.url}/echo").json()["headers"])
    assert "cookie" not in got


def test_head_gets_headers_and_no_body(proxy):
    resp = httpx.head(f"{proxy.url}/sized?n=5000")
    assert (
        resp.status_code == 200 and resp.headers["content-length"] == "5000" and resp.content == b""
    )


def test_a_chunked_upload_is_streamed_to_the_upstream(proxy):
    def chunks():
        for i in range(50):
            yield bytes([i]) * 10_000

    expected = hashlib.sha256(b"".join(chunks())).hexdigest()
    echo = httpx.post(f"{proxy.url}/upload", content=chunks()).json()
    assert echo["body_length"] == 500_000 and echo["body_sha256"] == expected


def test_a_chunked_download_arrives_whole(proxy):
    with httpx.stream("GET", f"{proxy.url}/bytes?n=3000000") as resp:
        size = sum(len(c) for c in resp.iter_raw())
    assert size == 3_000_000


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="needs /proc to read memory use"
)
def test_large_bodies_pass_both_ways_in_constant_memory(proxy):
    size = 256 * 1024 * 1024
    before = _rss()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        with httpx.stream("GET", f"{proxy.url}/bytes?n={size}", timeout=60) as resp:
            got = sum(len(c) for c in resp.iter_raw(1 << 20))
        piece = b"u" * (1 << 20)
        echo = httpx.post(
            f"{proxy.url}/upload", content=(piece for _ in range(256)), timeout=60
        ).json()
    finally:
        stop.set()
        watcher.join()
    assert got == size and echo.get("body_length") == size, echo
    assert peak[0] - before < 64 * 1024 * 1024, f"memory grew by {(peak[0] - before) >> 20} MiB"


def test_a_refused_connection_is_a_502_with_a_json_body(start_proxy, upstreams):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proxy = start_proxy(upstream_urls={**upstreams, "catalog": dead})
    cut_over(proxy, "catalog", "/api/catalog/*", policy=NO_FALLBACK)
    resp = httpx.get(f"{proxy.url}/api/catalog/x")
    assert resp.status_code == 502
    assert resp.json()["error"] == "upstream_unreachable" and "catalog" in resp.json()["detail"]
    assert resp.json()["request_id"] == resp.headers["x-request-id"]


def test_a_slow_upstream_is_a_504(proxy):
    resp = httpx.get(f"{proxy.url}/slow?s=3", timeout=10)  # the test config reads for 2 s
    assert resp.status_code == 504 and resp.json()["error"] == "upstream_timeout"


def test_the_read_timeout_holds_on_a_reused_pooled_connection(proxy):
    # Timers are moved lazily between exchanges: after fast answers on one pooled
    # connection, a stalled answer on that same connection must still be cut at read_timeout.
    with httpx.Client(timeout=10) as client:
        for _ in range(20):
            assert client.get(f"{proxy.url}/echo").status_code == 200
        started = time.monotonic()
        resp = client.get(f"{proxy.url}/slow?s=4")
    assert resp.status_code == 504 and resp.json()["error"] == "upstream_timeout"
    assert 1.5 < time.monotonic() - started < 3.5  # the test config reads for 2 s


def test_a_connect_timeout_is_a_504(start_proxy, upstreams):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # accepts nothing: the backlog fills and connects hang
    fillers = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        fillers.append(s)
    port = listener.getsockname()[1]
    proxy = start_proxy(
        upstream_urls={**upstreams, "catalog": f"http://127.0.0.1:{port}"},
        upstream_options={"catalog": {"connect_timeout": 0.3}},
    )
    cut_over(proxy, "catalog", "/api/catalog/*", policy=NO_FALLBACK)
    started = time.monotonic()
    resp = httpx.get(f"{proxy.url}/api/catalog/x", timeout=10)
    assert resp.status_code == 504 and "connecting to" in resp.json()["detail"]
    assert time.monotonic() - started < 2
    listener.close()
    for s in fillers:
        s.close()


def test_request_id_and_traceparent_are_propagated(proxy):
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    resp = httpx.get(
        f"{proxy.url}/echo", headers={"X-Request-ID": "req-42", "traceparent": incoming}
    )
    got = dict(resp.json()["headers"])
    assert got["x-request-id"] == "req-42" and resp.headers["x-request-id"] == "req-42"
    assert got["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    fresh = httpx.get(f"{proxy.url}/echo")
    assert len(fresh.headers["x-request-id"]) == 32


def test_the_access_log_says_route_target_status_duration_and_request_id(start_proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    proxy = start_proxy(access_log=str(log))
    cut_over(proxy, "catalog", "/api/catalog/*")
    httpx.get(f"{proxy.url}/api/catalog/x", headers={"X-Request-ID": "logged-1"})
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and "logged-1" not in (
        log.read_text() if log.exists() else ""
    ):
        time.sleep(0.05)
    line = next(json.loads(x) for x in log.read_text().splitlines() if "logged-1" in x)
    assert (line["route"], line["target"], line["status"]) == ("catalog", "catalog", 200)
    assert line["duration_ms"] > 0 and line["path"] == "/api/catalog/x"


def test_metrics_count_requests_by_route_and_target(proxy):
    cut_over(proxy, "catalog", "/api/catalog/*")
    for _ in range(3):
        httpx.get(f"{proxy.url}/api/catalog/m")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        text = httpx.get(f"{proxy.admin_url}/metrics").text
        line = [
            x
            for x in text.splitlines()
            if x.startswith("figkit_proxy_requests_total") and 'route="catalog"' in x
        ]
        if line and float(line[0].split()[-1]) >= 3:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no figkit_proxy_requests_total for route catalog")
    assert "figkit_proxy_request_duration_seconds_bucket" in text


def test_toggling_a_route_100_times_under_steady_traffic_loses_no_request(proxy):
    cut_over(proxy, "catalog", "/api/catalog/*")
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def client():
        with httpx.Client(timeout=10) as c:
            while not stop.is_set():
                r = c.get(f"{proxy.url}/api/catalog/x")
                results.append((r.status_code, r.headers.get("x-upstream", "")))

    workers = [threading.Thread(target=client) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        with proxy.admin() as admin:
            for i in range(100):
                mode = "monolith" if i % 2 == 0 else "service"
                assert (
                    admin.patch(
                        "/api/routes/catalog", json={"mode": mode, "why": f"flip {i}"}
                    ).status_code
                    == 200
                )
                time.sleep(0.01)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert len(results) > 100
    assert all(status == 200 for status, _ in results), {s for s, _ in results}
    assert {u for _, u in results} == {"monolith", "catalog"}


def test_a_route_to_an_upstream_the_config_no_longer_names_is_a_clear_502(proxy):
    with proxy.store.change(who="ops", why="drift", action="add") as tx:
        tx.put(Route("gone", "/gone/*", "billing", "service"))
    proxy.wait_for_version(tx.version)
    resp = httpx.get(f"{proxy.url}/gone/x")
    assert resp.status_code == 502 and "billing" in resp.json()["detail"]


def test_a_client_that_leaves_mid_download_stops_the_upstream_transfer(start_proxy, tmp_path):
    log = tmp_path / "gone.jsonl"
    proxy = start_proxy(access_log=str(log))
    host, port = proxy.url.removeprefix("http://").split(":")
    size = 20 * 1024**3  # 20 GiB: draining it to nowhere would take far longer than the test waits
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            f"GET /bytes?n={size} HTTP/1.1\r\nHost: x\r\nX-Request-ID: leaver-1\r\n\r\n".encode()
        )
        got = 0
        while got < 1_000_000:
            got += len(s.recv(65536))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "leaver-1" not in (
        log.read_text() if log.exists() else ""
    ):
        time.sleep(0.05)
    line = next((json.loads(x) for x in log.read_text().splitlines() if "leaver-1" in x), None)
    assert line is not None, "the proxy was still streaming to a client that had left"
    assert line["status"] == 499
    assert httpx.get(f"{proxy.url}/echo").status_code == 200
