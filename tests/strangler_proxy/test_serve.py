"""`figkit proxy serve` as a user runs it: workers, the admin process, live changes, replicas."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.strangler_proxy import servers
from tests.strangler_proxy.conftest import ADMIN_SECRET
from tests.strangler_proxy.test_proxying import raw_get

FIGKIT = str(Path(sys.executable).with_name("figkit"))


def write_config(
    tmp_path: Path, upstreams: dict, store: str, workers: int = 2
) -> tuple[Path, int, int]:
    port, admin = servers.free_port(), servers.free_port()
    lines = [
        "[proxy]",
        f'listen = "127.0.0.1:{port}"',
        f'admin_listen = "127.0.0.1:{admin}"',
        f'store = "{store}"',
        f"workers = {workers}",
        "debug_headers = true",
        f'access_log = "{tmp_path}/access.jsonl"',
    ]
    for name, url in upstreams.items():
        lines += [f"[upstreams.{name}]", f'urls = ["{url}"]']
    lines += [
        "[[tokens]]",
        'name = "ops"',
        'secret_env = "FIGKIT_TEST_SERVE_TOKEN"',
        'scope = "admin"',
    ]
    config = tmp_path / "proxy.toml"
    config.write_text("\n".join(lines) + "\n")
    return config, port, admin


def wait_port(port: int, proc: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"figkit proxy serve exited: {proc.stderr.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing on port {port}")


@pytest.fixture
def serve(tmp_path):
    procs = []

    def start(config: Path, *ports: int) -> subprocess.Popen:
        env = {**os.environ, "FIGKIT_TEST_SERVE_TOKEN": ADMIN_SECRET}
        proc = subprocess.Popen(
            [FIGKIT, "proxy", "serve", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        procs.append(proc)
        for port in ports:
            wait_port(port, proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def admin_client(admin: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{admin}",
        headers={"Authorization": f"Bearer {ADMIN_SECRET}"},
        timeout=10,
    )


def fresh_connection_upstreams(port: int, n: int) -> set[str]:
    """Ask n times, each on a new connection, so the kernel spreads them over the workers."""
    seen = set()
    for _ in range(n):
        with httpx.Client() as c:
            seen.add(c.get(f"http://127.0.0.1:{port}/api/catalog/x").headers["x-upstream"])
    return seen


def test_a_change_reaches_every_worker_within_a_second(serve, tmp_path, upstreams):
    config, port, admin = write_config(
        tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", workers=2
    )
    serve(config, port, admin)
    with admin_client(admin) as api:
        api.post(
            "/api/routes",
            json={"name": "catalog", "match": "/api/catalog/*", "target": "catalog", "why": "t"},
        )
        for mode, expected in (
            ("service", "catalog"),
            ("monolith", "monolith"),
            ("service", "catalog"),
        ):
            started = time.monotonic()
            answer = api.patch("/api/routes/catalog", json={"mode": mode, "why": "t"}).json()
            assert (answer["live"], answer["workers"]) == (True, 2)
            assert time.monotonic() - started < 1.0
            # live means live: no request after the answer sees the old table
            assert fresh_connection_upstreams(port, 30) == {expected}


def test_a_request_in_flight_finishes_on_the_table_it_started_with(serve, tmp_path, upstreams):
    config, port, admin = write_config(
        tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", workers=1
    )
    serve(config, port, admin)
    with admin_client(admin) as api:
        api.post(
            "/api/routes", json={"name": "slow", "match": "/slow", "target": "catalog", "why": "t"}
        )
        time.sleep(0.6)
        result = {}
        t = threading.Thread(
            target=lambda: result.update(
                r=httpx.get(f"http://127.0.0.1:{port}/slow?s=1.5", timeout=10)
            )
        )
        t.start()
        time.sleep(0.5)
        api.patch("/api/routes/slow", json={"mode": "service", "why": "mid-flight"})
        t.join()
    assert result["r"].status_code == 200 and result["r"].headers["x-upstream"] == "monolith"
    assert httpx.get(f"http://127.0.0.1:{port}/slow?s=0").headers["x-upstream"] == "catalog"


def test_replicas_sharing_a_postgresql_store_see_a_change_within_a_second(
    serve, tmp_path, upstreams, postgres_store_url
):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    config_a, port_a, admin_a = write_config(a_dir, upstreams, postgres_store_url, workers=1)
    config_b, port_b, admin_b = write_config(b_dir, upstreams, postgres_store_url, workers=1)
    serve(config_a, port_a, admin_a)
    serve(config_b, port_b, admin_b)
    with admin_client(admin_a) as api:
        api.post("/api/routes", json={"name": "catalog", "match": "/api/catalog/*", "target": "catalog",
                                      "mode": "service", "why": "t"})  # fmt: skip
    time.sleep(1.0)
    assert fresh_connection_upstreams(port_b, 5) == {"catalog"}
    with admin_client(admin_b) as api:
        assert api.post("/api/rollback", json={"route": "all", "why": "from b"}).status_code == 200
    time.sleep(1.0)
    assert fresh_connection_upstreams(port_a, 5) == {"monolith"}


def test_a_taken_port_is_one_clear_line_and_no_process_is_left(serve, tmp_path, upstreams):
    config, port, admin = write_config(
        tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", workers=1
    )
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", admin))
        blocker.listen(1)
        proc = serve(config)
        proc.wait(30)
    assert proc.returncode != 0
    err = proc.stderr.read()
    assert "proxy.admin_listen" in err and "cannot be used" in err and "Traceback" not in err


def test_sigterm_stops_the_proxy_and_its_admin_process(serve, tmp_path, upstreams):
    config, port, admin = write_config(
        tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", workers=1
    )
    proc = serve(config, port, admin)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(20)
    time.sleep(0.5)
    for p in (port, admin):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"


def test_the_proxying_rules_hold_under_figkit_proxy_serve(serve, tmp_path, upstreams):
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 1)
    serve(config, port, admin)
    url = f"http://127.0.0.1:{port}"
    with admin_client(admin) as api:
        api.post("/api/routes", json={"name": "catalog", "match": "/api/catalog/*", "target": "catalog",
                                      "mode": "service", "why": "t"})  # fmt: skip
    time.sleep(0.6)
    status, headers, body = raw_get(url, "/api/catalog/%2e%2e/%2e%2e/admin/")
    assert headers["x-upstream"] == "monolith" and json.loads(body)["path"] == "/admin/"
    echo = httpx.get(f"{url}/api/catalog/e?q=1", headers={"X-Forwarded-For": "6.6.6.6"}).json()
    assert echo["upstream"] == "catalog" and echo["query"] == "q=1"
    assert dict(echo["headers"])["x-forwarded-for"] == "127.0.0.1"
    assert httpx.get(f"{url}/cookies").headers.get_list("set-cookie") == [
        "a=1; Path=/",
        "b=2; Path=/",
    ]
    assert httpx.get(f"{url}/redirect").status_code == 302
    head = httpx.head(f"{url}/sized?n=5000")
    assert head.headers["content-length"] == "5000" and head.content == b""
    piece = b"p" * 65536
    up = httpx.post(f"{url}/upload", content=(piece for _ in range(160)), timeout=30).json()
    assert up["body_length"] == 160 * 65536
    with httpx.stream("GET", f"{url}/bytes?n=20000000", timeout=30) as resp:
        assert sum(len(c) for c in resp.iter_raw()) == 20_000_000


def test_a_client_leaving_mid_download_is_logged_499(serve, tmp_path, upstreams):
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 1)
    serve(config, port, admin)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            f"GET /bytes?n={20 * 1024**3} HTTP/1.1\r\nHost: x\r\nX-Request-ID: leaver-2\r\n\r\n".encode()
        )
        got = 0
        while got < 1_000_000:
            got += len(s.recv(65536))
    log = tmp_path / "access.jsonl"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "leaver-2" not in (
        log.read_text() if log.exists() else ""
    ):
        time.sleep(0.1)
    line = next((json.loads(x) for x in log.read_text().splitlines() if "leaver-2" in x), None)
    assert line is not None and line["status"] == 499
    assert httpx.get(f"http://127.0.0.1:{port}/echo").status_code == 200


def _workers_of(proc: subprocess.Popen, port: int) -> list[psutil.Process]:
    """The data-path worker processes of a `figkit proxy serve`: those listening on its port."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any(
                c.laddr.port == port and c.status == psutil.CONN_LISTEN
                for c in child.net_connections("tcp")
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for_workers(
    proc: subprocess.Popen, port: int, n: int, seconds: float = 15
) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = _workers_of(proc, port)
        if len(workers) == n:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"expected {n} workers, found {len(_workers_of(proc, port))}")


def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(serve, tmp_path, upstreams):
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 1)
    proc = serve(config, port, admin)
    result: dict = {}

    def slow() -> None:
        try:
            result["r"] = httpx.get(f"http://127.0.0.1:{port}/slow?s=1.5", timeout=10)
        except httpx.HTTPError as exc:
            result["error"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.3)
    with socket.socket() as s:
        refused = s.connect_ex(("127.0.0.1", port)) != 0
    t.join(10)
    proc.wait(15)
    assert "r" in result, result.get("error")
    assert result["r"].status_code == 200 and result["r"].text == "late"
    assert refused, "a new connection was accepted while draining"


def test_a_worker_that_dies_is_replaced(serve, tmp_path, upstreams):
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 2)
    proc = serve(config, port, admin)
    first = _wait_for_workers(proc, port, 2)
    first[0].kill()
    again = _wait_for_workers(proc, port, 2)
    assert first[0].pid not in {w.pid for w in again}
    assert fresh_connection_upstreams(port, 10) == {"monolith"}
    assert proc.poll() is None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read memory")
def test_a_gigabyte_each_way_keeps_the_worker_flat_in_memory(serve, tmp_path, upstreams):
    config, port, admin = write_config(tmp_path, upstreams, f"sqlite:///{tmp_path}/routes.db", 1)
    proc = serve(config, port, admin)
    (worker,) = _wait_for_workers(proc, port, 1)
    httpx.get(f"http://127.0.0.1:{port}/echo")  # warm: pools, the route table, the access log
    before = worker.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], worker.memory_info().rss)
            time.sleep(0.01)

    watcher = threading.Thread(target=sample)
    watcher.start()
    size = 1 << 30
    try:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/bytes?n={size}", timeout=60) as resp:
            got = sum(len(c) for c in resp.iter_raw(1 << 20))
        piece = b"u" * (1 << 20)
        echo = httpx.post(
            f"http://127.0.0.1:{port}/upload", content=(piece for _ in range(1024)), timeout=60
        ).json()
    finally:
        stop.set()
        watcher.join()
    assert got == size and echo.get("body_length") == size, echo
    grew = (peak[0] - before) >> 20
    assert grew < 32, f"the worker grew by {grew} MiB moving 1 GiB each way"
