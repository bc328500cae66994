"""Slow and idle clients cannot starve the proxy: slowloris heads, 10,000 idle keep-alives."""

from __future__ import annotations

import resource
import socket
import time

import httpx
import psutil
import pytest

from tests.strangler_proxy.test_serve import _wait_for_workers, serve, write_config  # noqa: F401


def test_200_slow_header_clients_do_not_stop_others_and_are_cut(start_proxy):
    proxy = start_proxy(header_timeout=1.5)
    port = int(proxy.url.rsplit(":", 1)[1])
    slow = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /echo HTTP/1.1\r\nHo")
        slow.append(s)
    try:
        for s in slow[:50]:
            s.sendall(b"s")  # still dribbling
        started = time.monotonic()
        for _ in range(20):
            assert httpx.get(f"{proxy.url}/echo", timeout=2).status_code == 200
        assert (time.monotonic() - started) / 20 < 0.1, "a normal client waited behind slow ones"
        time.sleep(2.0)
        cut = 0
        for s in slow:
            s.settimeout(2)
            try:
                data = s.recv(4096)
            except (TimeoutError, ConnectionResetError):
                continue
            if data.startswith(b"HTTP/1.1 408") or data == b"":
                cut += 1
        assert cut == 200, f"only {cut} of 200 slow clients were cut after header_timeout"
    finally:
        for s in slow:
            s.close()


def test_10000_idle_keep_alive_connections_are_held_in_bounded_memory(serve, tmp_path, upstreams):  # noqa: F811
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 10_500:
        pytest.skip(f"needs 10,500 open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 1)
    proc = serve(config, port, admin)
    (worker,) = _wait_for_workers(proc, port, 1)
    httpx.get(f"http://127.0.0.1:{port}/echo")
    before = worker.memory_info().rss
    held = []
    try:
        for _ in range(10_000):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        request = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
        for s in held[:500]:  # some have made a request first, then idle
            s.sendall(request)
        for s in held[:500]:
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
        grew = worker.memory_info().rss - before
        assert len(psutil.Process(worker.pid).net_connections("tcp")) >= 10_000
        # a connection costs its protocol object, a parser and libuv's buffers: a few KiB
        assert grew / 10_000 < 16 * 1024, f"{grew / 10_000 / 1024:.1f} KiB per idle connection"
        assert httpx.get(f"http://127.0.0.1:{port}/echo", timeout=5).status_code == 200
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
