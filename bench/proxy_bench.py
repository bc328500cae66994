"""The proxy against nginx, side by side in one run: throughput, added latency, big tables.

    .venv/bin/python bench/proxy_bench.py [--seconds 8] [--no-write]

Needs wrk and nginx (Debian packages wrk, nginx-light). Everything listens on 127.0.0.1
and every wrk run is bounded by --seconds. The upstream is nginx serving 1 KB of JSON;
in front of it, in turn: nothing (direct), nginx as a proxy (one worker, upstream
keep-alive), and figkit's proxy with one and with two workers. Targets (issue 4) are
ratios to nginx measured in the same run, since this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import machine, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGKIT = ROOT / ".venv" / "bin" / "figkit"
TOKEN = "bench-token-not-secret"
NGINX_CONF = """
worker_processes 1;
error_log {dir}/nginx-error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  keepalive_requests 1000000;
  upstream origin {{ server 127.0.0.1:{origin}; keepalive 64; }}
  server {{  # the upstream: 1 KB of JSON
    listen 127.0.0.1:{origin};
    location / {{ default_type application/json; root {dir}; try_files /payload.json =404; }}
  }}
  server {{  # nginx as the proxy
    listen 127.0.0.1:{nginx_proxy};
    location / {{
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def parse_wrk(text: str) -> dict:
    def seconds(value: str, unit: str) -> float:
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {
        p: seconds(v, u) * 1000
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": rps,
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def wrk(url: str, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    return parse_wrk(out)


class Figkit:
    """`figkit proxy serve` with a route table of N routes, all cut over to the upstream."""

    def __init__(
        self, tmp: Path, origin: int, routes: int, workers: int, server: str = "granian"
    ) -> None:
        self.tmp, self.origin, self.routes, self.workers = tmp, origin, routes, workers
        self.port, self.admin = free_port(), free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"figkit-{routes}-{workers}-", dir=tmp))
        (self.dir / "proxy.toml").write_text(
            f"""[proxy]
listen = "127.0.0.1:{self.port}"
admin_listen = "127.0.0.1:{self.admin}"
store = "sqlite:///{self.dir}/routes.db"
access_log = "{self.dir}/access.jsonl"
server = "{server}"

[upstreams.monolith]
urls = ["http://127.0.0.1:{origin}"]

[upstreams.service]
urls = ["http://127.0.0.1:{origin}"]

[[tokens]]
name = "bench"
secret_env = "FIGKIT_ADMIN_TOKEN"
scope = "admin"
"""
        )
        routes_file = self.dir / "routes.json"
        table = [
            {
                "name": f"r{i}",
                "match": f"/api/r{i}/<int:id>/",
                "target": "service",
                "mode": "service",
            }
            for i in range(routes)
        ]
        routes_file.write_text(json.dumps({"routes": table}))
        self.routes_file = routes_file
        self.url = f"http://127.0.0.1:{self.port}/api/r{routes // 2}/42/"

    def __enter__(self) -> Figkit:
        env = {
            **os.environ,
            "FIGKIT_ADMIN_TOKEN": TOKEN,
            "FIGKIT_ADMIN_URL": f"http://127.0.0.1:{self.admin}",
        }
        self.proc = subprocess.Popen(
            [str(FIGKIT), "proxy", "serve", "--config", str(self.dir / "proxy.toml"), "--workers", str(self.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.dir / "serve.log", "w"), start_new_session=True,
        )  # fmt: skip
        try:
            wait_port(self.port)
            wait_port(self.admin)
            self._load_routes(env)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _load_routes(self, env: dict) -> None:
        subprocess.run(
            [str(FIGKIT), "routes", "import", str(self.routes_file), "--why", "bench"],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        time.sleep(1.0)  # every worker polls the new version in
        check = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", self.url],
            capture_output=True,
            text=True,
        )
        if check.stdout != "200":
            raise SystemExit(
                f"figkit proxy answered {check.stdout} for {self.url}: see {self.dir}/serve.log"
            )

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating runs of the 10- and 1,000-route tables"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print, do not touch bench/RESULTS.md"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "curl"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: apt-get install wrk nginx-light curl")
    s = args.seconds
    tmp = Path(tempfile.mkdtemp(prefix="figkit-proxy-bench-"))
    tmp.chmod(0o755)  # nginx's workers drop root and must read the payload
    origin, nginx_proxy = free_port(), free_port()
    (tmp / "payload.json").write_text(
        json.dumps({"items": [{"id": i, "name": f"item {i:04d}"} for i in range(40)]})[:1023] + "\n"
    )
    for d in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir()
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(dir=tmp, origin=origin, nginx_proxy=nginx_proxy)
    )
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run([nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)], check=True)
    results: dict[str, dict] = {}
    try:
        wait_port(origin)
        wait_port(nginx_proxy)
        direct, via_nginx = (
            f"http://127.0.0.1:{origin}/",
            f"http://127.0.0.1:{nginx_proxy}/api/r5/42/",
        )
        results["direct c1"] = wrk(direct, 1, s)
        results["direct c32"] = wrk(direct, 32, s)
        results["nginx c1"] = wrk(via_nginx, 1, s)
        results["nginx c32"] = wrk(via_nginx, 32, s)
        minimal_port = free_port()
        minimal = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
             "--port", str(minimal_port), "--loop", "uvloop", "--log-level", "warning", "bench.minimal_proxy:app"],
            cwd=ROOT, env={**os.environ, "FIGKIT_BENCH_ORIGIN": f"http://127.0.0.1:{origin}"},
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_port(minimal_port)
            results["minimal aiohttp proxy c32"] = wrk(
                f"http://127.0.0.1:{minimal_port}/api/r5/42/", 32, s
            )
        finally:
            os.killpg(minimal.pid, signal.SIGTERM)
            minimal.wait(15)
        with Figkit(tmp, origin, 10, 1) as fk:
            results["figkit 1w c1"] = wrk(fk.url, 1, s)
            results["figkit 1w c32"] = wrk(fk.url, 32, s)
        with Figkit(tmp, origin, 10, 2) as fk:
            results["figkit 2w c32"] = wrk(fk.url, 32, s)
        with Figkit(tmp, origin, 10, 1, server="uvicorn") as fk:
            results["figkit uvicorn 1w c32"] = wrk(fk.url, 32, s)
        with Figkit(tmp, origin, 10, 1) as small, Figkit(tmp, origin, 1000, 1) as big:
            for i in range(args.repeats):
                results[f"10 routes #{i + 1}"] = wrk(small.url, 32, s)
                results[f"1000 routes #{i + 1}"] = wrk(big.url, 32, s)
    finally:
        subprocess.run(
            [nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-s", "stop"], check=False
        )
    for name, r in results.items():
        print(
            f"{name:16} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  non-2xx {r['non_2xx']} {r['socket_errors']}"
        )
    chart = (
        plot(results, Path(__file__).with_name("proxy_bench.png")) if not args.no_write else None
    )
    report = render(results, s, args.repeats) + (
        f"\n![throughput and p99 at 32 connections]({chart.name})\n" if chart else ""
    )
    print(report)
    if not args.no_write:
        write_section("## Strangler proxy", report)
    shutil.rmtree(tmp, ignore_errors=True)


def match_cost() -> tuple[float, float]:
    """Microseconds per RouteTable.match with 10 and with 1,000 routes: the same check, without the network's noise."""
    import timeit

    from strangler_proxy.routing import Route, RouteTable

    def per_match(n: int) -> float:
        table = RouteTable(
            Route(f"r{i}", f"/api/r{i}/<int:id>/", "service", "service") for i in range(n)
        )
        path = f"/api/r{n // 2}/42/"
        return (
            min(timeit.repeat(lambda: table.match("GET", path), number=20_000, repeat=5))
            / 20_000
            * 1e6
        )

    return per_match(10), per_match(1000)


def plot(r: dict, path: Path) -> Path:
    """Throughput and p99 at 32 connections, side by side, for the runs that compare servers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [
        "direct c32",
        "nginx c32",
        "minimal aiohttp proxy c32",
        "figkit 1w c32",
        "figkit 2w c32",
        "figkit uvicorn 1w c32",
    ]
    labels = [
        "upstream direct",
        "nginx",
        "minimal aiohttp proxy",
        "figkit, 1 worker",
        "figkit, 2 workers",
        "figkit on uvicorn",
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    colours = ["#999", "#4e79a7", "#bab0ac", "#f28e2b", "#f28e2b", "#e15759"]
    left.barh(labels, [r[n]["rps"] for n in names], color=colours)
    left.set_xscale("log")
    left.set_xlabel("requests per second (log scale), wrk -t1 -c32")
    right.barh(labels, [r[n]["p99_ms"] for n in names], color=colours)
    right.axvline(15, color="black", linestyle="--", linewidth=1)
    right.set_xlabel("p99 latency, ms (dashed: the 15 ms target)")
    right.set_yticklabels([])
    for ax in (left, right):
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def render(r: dict, seconds: int, repeats: int) -> str:
    nginx = r["nginx c32"]["rps"]
    ratio_1w = r["figkit 1w c32"]["rps"] / nginx
    added = r["figkit 1w c1"]["p50_ms"] - r["direct c1"]["p50_ms"]
    p99 = r["figkit 1w c32"]["p99_ms"]
    small = sum(r[f"10 routes #{i + 1}"]["rps"] for i in range(repeats)) / repeats
    big = sum(r[f"1000 routes #{i + 1}"]["rps"] for i in range(repeats)) / repeats
    cost = 1 - big / small

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    small_us, big_us = match_cost()
    floor = r["minimal aiohttp proxy c32"]["rps"]
    two = r["figkit 2w c32"]["rps"]
    rows = "\n".join(
        f"| {name} | {v['rps']:,.0f} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} | {v['non_2xx']} |"
        for name, v in r.items()
    )
    return f"""## Strangler proxy

`.venv/bin/python bench/proxy_bench.py --seconds {seconds} --repeats {repeats}` on {machine()}.
wrk -t1 for {seconds} s per row, on 127.0.0.1; the upstream is nginx serving 1 KB of JSON.
nginx as the proxy: one worker, upstream keep-alive. figkit: `figkit proxy serve`
(granian, uvloop, aiohttp client; one row under uvicorn with httptools), access log and
metrics on, the request matching a cut-over route `/api/rN/<int:id>/`. wrk, the upstream and the proxy share
this machine's {os.cpu_count()} cores, which flatters nobody: read the ratios.

| target (issue 4) | figure | verdict |
|---|---|---|
| throughput, 1 worker, 32 connections, >= 0.25 of nginx | {ratio_1w:.2f} ({r["figkit 1w c32"]["rps"]:,.0f} vs {nginx:,.0f} req/s) | {verdict(ratio_1w >= 0.25)} |
| added p50 latency at 1 connection, <= 0.3 ms | {added:.3f} ms ({r["figkit 1w c1"]["p50_ms"]:.3f} vs direct {r["direct c1"]["p50_ms"]:.3f}) | {verdict(added <= 0.3)} |
| p99 at 32 connections, <= 15 ms | {p99:.2f} ms | {verdict(p99 <= 15)} |
| 1,000 routes cost <= 5% throughput against 10 | {cost * 100:+.1f}% ({big:,.0f} vs {small:,.0f} req/s, mean of {repeats} alternating runs) | {verdict(cost <= 0.05)} |

Matching alone, timed in-process: {small_us:.2f} µs per request with 10 routes,
{big_us:.2f} µs with 1,000 (a segment trie: the cost follows the path's depth, not the
table's size), against about {1e6 / r["figkit 1w c32"]["rps"]:.0f} µs a request costs the worker in all.

**On throughput.** A minimal ASGI proxy on the same stack (granian, uvloop, aiohttp's
client; no routing, headers, logs or metrics: bench/minimal_proxy.py) served {floor:,.0f} req/s,
{floor / nginx:.2f} of nginx: the stack alone, in one Python process, stays under the 0.25
target on this machine, where nginx itself served {nginx:,.0f} req/s (the issue's own
measurement had nginx at 35,000 and aiohttp at 8,300). figkit's proxy, doing all a proxy
must, keeps {r["figkit 1w c32"]["rps"] / floor:.0%} of that floor. Two workers serve
{two:,.0f} req/s ({two / nginx:.2f} of nginx) on a machine whose two cores also run wrk and
the upstream. Closing the rest would mean leaving aiohttp for a hand-written HTTP/1.1
client on the upstream side, which the issue rules out for now.

| run | req/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    main()
