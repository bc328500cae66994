"""What the proxy's behaviours cost: issue 13's three targets, side by side in one run.

    .venv/bin/python bench/behaviours_bench.py [--seconds 3] [--repeats 12] [--no-write]

One figkit worker in front of one nginx (1 KB of JSON), and for shadow mode a service
50 ms slower than the monolith (bench/slow_upstream.py, the same JSON). The bench route's
routes live in one table, one path each, and every turn runs each variant once, in a
rotated order, so each figure is compared with the plain data path of its own turn:

- no route: the request matches no route (the plain data path: no behaviour at all);
- monolith: a route whose mode runs no behaviour (every behaviour off);
- service: cut over (the choice of upstream, fallback and the rollback watch);
- canary 50%: the sticky split (this user is on the service) and the breaker;
- shadow: the monolith answers, every GET is teed and offered to the mirror queue.

Targets (issue 13): monolith within 3% of no route; canary within 5% of no route; shadow
against monolith within 15% in requests/s and 10% in p99. Needs wrk and nginx
(Debian: wrk nginx-light). Everything listens on 127.0.0.1, every run is bounded by
--seconds, and every process is killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proxy_bench import (  # noqa: E402
    ORIGIN_CONF,
    ORIGIN_SERVER,
    TOKEN,
    VENV,
    Group,
    busy_seconds,
    fetch_head,
    free_port,
    parse_wrk,
    route_table,
    wait_port,
)
from bench.results_file import machine, write_section  # noqa: E402
from strangler_proxy.behaviours.canary import bucket  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLOW_MS = 50
# Each variant is a route of one table, on its own path, so turns alternate without a swap;
# "no route" is a path no route matches. Matching costs the same at every path (a trie).
VARIANTS = {
    "no route": None,
    "monolith": {"mode": "monolith"},
    "service": {"mode": "service"},
    "canary 50%": {"mode": "canary", "options": {"canary": {"percent": 50}}},
    "shadow": {"mode": "shadow"},
}


def path_of(variant: str) -> str:
    return f"/bench/{variant.split()[0].replace(' ', '-')}/products/42/"


def user_on_service() -> str:
    """A figkit_canary cookie value that the 50% canary sends to the service."""
    n = 0
    while bucket(b"service", b"bench-user-%d" % n) >= 0.5:
        n += 1
    return f"bench-user-{n}"


def start(group: Group, tmp: Path, origin: int, slow: int) -> tuple[int, dict]:
    port, admin = free_port(), free_port()
    home = tmp / "figkit"
    home.mkdir()
    (home / "proxy.toml").write_text(
        f"""[proxy]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
store = "sqlite:///{home}/routes.db"
access_log = "{home}/access.jsonl"

[upstreams.monolith]
urls = ["http://127.0.0.1:{origin}"]

[upstreams.service]
urls = ["http://127.0.0.1:{origin}"]

[upstreams.slow]
urls = ["http://127.0.0.1:{slow}"]

[[tokens]]
name = "bench"
secret_env = "FIGKIT_ADMIN_TOKEN"
scope = "admin"
"""
    )
    env = {
        **os.environ,
        "FIGKIT_ADMIN_TOKEN": TOKEN,
        "FIGKIT_ADMIN_URL": f"http://127.0.0.1:{admin}",
    }
    group.start("figkit", [str(VENV / "figkit"), "proxy", "serve", "--config", str(home / "proxy.toml"), "--workers", "1"], env)  # fmt: skip
    wait_port(port)
    wait_port(admin)
    return port, env


def load(tmp: Path, env: dict) -> None:
    """The bench table: 9 ordinary routes and one route per variant, each on its own path."""
    table = route_table(10)[1:]
    for variant, policy in VARIANTS.items():
        if policy is None:
            continue
        table.append(
            {
                "name": f"bench-{variant.split()[0]}",
                "match": path_of(variant).replace("/42/", "/<int:id>/"),
                "target": "slow" if policy["mode"] == "shadow" else "service",
                "policy": policy,
            }
        )
    path = tmp / "figkit" / "routes.json"
    path.write_text(json.dumps({"routes": table}))
    done = subprocess.run(
        [str(VENV / "figkit"), "routes", "import", str(path), "--replace", "--why", "bench"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"routes import failed: {done.stderr.strip() or done.stdout}")
    time.sleep(1.0)  # the worker polls the store and swaps tables within poll_interval


def run_wrk(group: Group, url: str, seconds: float, cookie: str) -> dict:
    before, start_busy, started = group.cpu_seconds(), busy_seconds(), time.monotonic()
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-H", f"Cookie: figkit_canary={cookie}", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True, start_new_session=True,
    ).stdout  # fmt: skip
    wall = time.monotonic() - started
    result = parse_wrk(out)
    after = group.cpu_seconds()
    result["proxy_cores"] = (after["figkit"] - before["figkit"]) / wall
    result["machine_cores"] = (busy_seconds() - start_busy) / wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--repeats", type=int, default=12, help="turns of every variant")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: apt-get install wrk nginx-light")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="figkit-behaviours-bench-"))
    tmp.chmod(0o755)  # nginx's workers may drop root and must read the payload
    group = Group(tmp)
    try:
        results, shadow = run(group, tmp, args)
    finally:
        group.close()
    text = render(results, shadow, args)
    print(text)
    if not args.no_write:
        write_section("## Proxy behaviours", text)
    shutil.rmtree(tmp, ignore_errors=True)


def run(group: Group, tmp: Path, args: argparse.Namespace) -> tuple[dict, dict]:
    (tmp / "payload.json").write_text(
        json.dumps({"items": [{"id": i, "name": f"item {i:04d}"} for i in range(40)]})[:1023] + "\n"
    )
    for d in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir()
    origin, slow = free_port(), free_port()
    conf = ORIGIN_CONF.format(
        dir=tmp, name="origin", server=ORIGIN_SERVER.format(port=origin, dir=tmp)
    )
    (tmp / "origin.conf").write_text(conf)
    group.start("origin", [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(tmp / "origin.conf"), "-p", str(tmp)])  # fmt: skip
    group.start("slow", [str(VENV / "python"), str(ROOT / "bench" / "slow_upstream.py"), str(slow), str(tmp / "payload.json"), str(SLOW_MS)])  # fmt: skip
    wait_port(origin)
    wait_port(slow)
    port, env = start(group, tmp, origin, slow)
    cookie = user_on_service()
    names = list(VARIANTS)
    results: dict[str, list[dict]] = {n: [] for n in names}
    shadow: dict = {}
    load(tmp, env)
    for name in names:
        head = fetch_head(port, path_of(name))
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"{name}: the proxy answered {head[:200]!r}")
    for turn in range(args.repeats):
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            r = run_wrk(group, f"http://127.0.0.1:{port}{path_of(name)}", args.seconds, cookie)
            results[name].append(r)
            print(f"#{turn + 1} {name:11} {r['rps']:>9,.0f} req/s  p99 {r['p99_ms']:.2f} ms  "
                  f"proxy {r['proxy_cores']:.2f} cores  errors {r['errors']}", flush=True)  # fmt: skip
    time.sleep(2)  # the worker adds its shadow figures once a second
    out = subprocess.run(
        [str(VENV / "figkit"), "routes", "diff", "bench-shadow", "--json"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if out.returncode == 0:
        shadow = json.loads(out.stdout)
    return results, shadow


def render(results: dict[str, list[dict]], shadow: dict, args: argparse.Namespace) -> str:
    def cpu_us(r: dict) -> float:
        return r["proxy_cores"] / r["rps"] * 1e6

    def ratios(name: str, base: str, key: str) -> list[float]:
        return [a[key] / b[key] for a, b in zip(results[name], results[base], strict=True)]

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    rows = []
    for name in results:
        rps = statistics.median(ratios(name, "no route", "rps"))
        p99 = statistics.median(ratios(name, "no route", "p99_ms"))
        cpu = statistics.median(
            cpu_us(a) / cpu_us(b) for a, b in zip(results[name], results["no route"], strict=True)
        )
        rows.append(
            f"| {name} | {med(name, 'rps'):,.0f} | {rps:.3f} | {med(name, 'p99_ms'):.2f} | {p99:.2f} "
            f"| {statistics.median(cpu_us(r) for r in results[name]):.1f} | {cpu:.3f} |"
        )

    def verdict(ok: bool) -> str:
        return "**meets**" if ok else "**MISSES**"

    off = statistics.median(ratios("monolith", "no route", "rps"))
    canary = statistics.median(ratios("canary 50%", "no route", "rps"))
    shadow_rps = statistics.median(ratios("shadow", "monolith", "rps"))
    shadow_p99 = statistics.median(ratios("shadow", "monolith", "p99_ms"))
    service = statistics.median(ratios("service", "no route", "rps"))
    per_turn = ", ".join(f"{x:.3f}" for x in ratios("monolith", "no route", "rps"))
    mirrored = shadow.get("compared", 0)
    return f"""## Proxy behaviours

`.venv/bin/python bench/behaviours_bench.py --seconds {args.seconds} --repeats {args.repeats}` on
{machine()}; wrk -c32 (one thread), one figkit worker, upstream nginx (1 worker, 1 KB JSON),
all on the same 2 shared cores. Each variant is a route of one table on its own path (so
turns alternate without a table swap), every turn runs each variant once in a rotated
order, each ratio is against the plain data path (`no route`) of the same turn, and the
figure is the median over {args.repeats} turns.

| variant | req/s | vs no route | p99 ms | vs no route | CPU µs/req | vs no route |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- **Every behaviour off** (a route in `monolith` mode) against the plain data path:
  {(off - 1) * 100:+.1f}% requests/s (per turn: {per_turn}); target within 3%:
  {verdict(off >= 0.97)}.
- **Canary and breaker on** (50%, this user on the service, breaker closed):
  {(canary - 1) * 100:+.1f}% requests/s; target within 5%: {verdict(canary >= 0.95)}.
  Cut over (`service`: fallback and the rollback watch armed): {(service - 1) * 100:+.1f}%.
- **Shadow on against off**, with the shadow service {SLOW_MS} ms slower than the monolith:
  {(shadow_rps - 1) * 100:+.1f}% requests/s (target within 15%: {verdict(shadow_rps >= 0.85)})
  and the client's p99 at {shadow_p99:.2f}x (target within 10%: {verdict(shadow_p99 <= 1.10)}).
  Over the shadow runs the mirror compared {mirrored:,} requests ({shadow.get("mismatched", 0)}
  mismatched, noise learned: {", ".join(shadow.get("noise", [])) or "none"}) and dropped
  {shadow.get("dropped", 0):,} when its queue was full: with `concurrency = 8` senders and a
  service that takes {SLOW_MS} ms, at most about {8 * 1000 // SLOW_MS} mirrors a second
  leave, and the rest are dropped and counted rather than slowing the client.
"""


if __name__ == "__main__":
    main()
