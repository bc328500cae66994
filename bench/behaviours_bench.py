"""What the proxy's behaviours cost: issue 13's three targets, side by side in one run.

    .venv/bin/python bench/behaviours_bench.py [--seconds 3] [--repeats 10] [--no-write]

One figkit worker in front of one nginx (1 KB of JSON), and for shadow mode a service
50 ms slower than the monolith (bench/slow_upstream.py, the same JSON). The variants are
routes of one table, one path each; every turn runs each variant once, in a rotated order,
flat out and paced, so each figure is compared with the plain data path of its own turn;
then callgrind counts each variant's instructions per request (if valgrind is installed):

- no route: the request matches no route (the plain data path: no behaviour at all);
- monolith: a route whose mode runs no behaviour (every behaviour off);
- service: cut over (the choice of upstream, fallback and the rollback watch);
- canary 50%: the sticky split (this user is on the service) and the breaker;
- shadow: the monolith answers; GETs are picked for mirroring (at most max_per_second).

Targets (issue 13): monolith within 3% of no route; canary within 5% of no route; shadow
against monolith within 15% in requests/s and 10% in p99. Needs wrk and nginx
(Debian: wrk nginx-light), and valgrind for the instruction counts. Everything listens on 127.0.0.1, every run is bounded by
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
    figkit_config,
    free_port,
    import_routes,
    parse_wrk,
    route_table,
    wait_port,
)
from bench.results_file import machine, write_section  # noqa: E402
from strangler_proxy.behaviours.canary import bucket  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLOW_MS = 50
PACE_MS = 8  # paced runs: each connection waits this long between requests
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
    if VARIANTS[variant] is None:
        # As deep in the table as the others, but the last segment is not an <int:id>.
        return "/bench/monolith/products/x42/"
    return f"/bench/{variant.split()[0]}/products/42/"


def payload() -> str:
    """About 1 KB of valid JSON (the shadow diff parses it and compares it structurally)."""
    items: list[dict] = []
    while len(json.dumps({"items": items})) < 980:
        items.append({"id": len(items), "name": f"item {len(items):04d}"})
    return json.dumps({"items": items[:-1]}) + "\n"


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
        figkit_config(home, port, admin, {"monolith": origin, "service": origin, "slow": slow})
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
    import_routes(env, path, "figkit")
    time.sleep(1.0)  # the worker polls the store and swaps tables within poll_interval


PACED_LUA = "delay = function() return {ms} end\n"


def run_wrk(group: Group, url: str, seconds: float, cookie: str, pace_ms: int = 0) -> dict:
    """wrk -c32 flat out, or paced (each connection waits pace_ms between requests)."""
    before, start_busy, started = group.cpu_seconds(), busy_seconds(), time.monotonic()
    argv = [
        "wrk",
        "-t1",
        "-c32",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Cookie: figkit_canary={cookie}",
    ]
    if pace_ms:
        script = group.tmp / f"paced-{pace_ms}.lua"
        script.write_text(PACED_LUA.format(ms=pace_ms))
        argv += ["-s", str(script)]
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=seconds + 30, check=True,
        start_new_session=True,
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
    parser.add_argument("--repeats", type=int, default=10, help="turns of every variant")
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
    (tmp / "payload.json").write_text(payload())
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
    paced: dict[str, list[dict]] = {n: [] for n in names}
    shadow: dict = {}
    load(tmp, env)
    for name in names:
        head = fetch_head(port, path_of(name))
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"{name}: the proxy answered {head[:200]!r}")
    for turn in range(args.repeats):
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            url = f"http://127.0.0.1:{port}{path_of(name)}"
            r = run_wrk(group, url, args.seconds, cookie)
            results[name].append(r)
            p = run_wrk(group, url, args.seconds, cookie, PACE_MS)
            paced[name].append(p)
            print(f"#{turn + 1} {name:11} {r['rps']:>9,.0f} req/s  p99 {r['p99_ms']:.2f} ms | paced "
                  f"{p['rps']:>7,.0f} req/s  p99 {p['p99_ms']:.2f} ms  {cpu_us(p):.1f} µs/req", flush=True)  # fmt: skip
    time.sleep(2)  # the worker adds its shadow figures once a second
    out = subprocess.run(
        [str(VENV / "figkit"), "routes", "diff", "bench-shadow", "--json"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if out.returncode == 0:
        shadow = json.loads(out.stdout)
    counts = instructions(tmp, cookie)
    return {"flat": results, "paced": paced, "instructions": counts}, shadow


INSTRUCTION_RUNS = (300, 1300)  # requests per callgrind run; the difference is what counts


def instructions(tmp: Path, cookie: str) -> dict[str, float]:
    """Instructions per request of each variant (not shadow), counted by callgrind.

    Deterministic where timings on this shared machine are not: the same binary and the
    same requests give the same count whatever else runs. Two runs of N requests each;
    (total(N2) - total(N1)) / (N2 - N1) leaves out start-up and shutdown.
    """
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instructions per request are skipped", flush=True)
        return {}
    config = tmp / "figkit" / "proxy.toml"
    counted = tmp / "figkit" / "counted.toml"
    # The same config, but workers poll the store rarely: polling is not per request.
    counted.write_text(config.read_text().replace("[proxy]\n", "[proxy]\npoll_interval = 5.0\n", 1))
    found: dict[str, float] = {}
    for name, policy in VARIANTS.items():
        if policy is not None and policy["mode"] == "shadow":
            continue  # its mirrors depend on time (max_per_second), not on the request count
        totals = []
        for n in INSTRUCTION_RUNS:
            out = tmp / f"callgrind-{name.split()[0]}-{n}.out"
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                 str(VENV / "python"), str(ROOT / "bench" / "instructions_driver.py"),
                 str(counted), path_of(name), str(n), cookie],
                capture_output=True, text=True, timeout=900, check=True, cwd=ROOT,
            )  # fmt: skip
            totals.append(
                next(
                    int(line.split()[1])
                    for line in out.read_text().splitlines()
                    if line.startswith("totals:")
                )
            )
        found[name] = (totals[1] - totals[0]) / (INSTRUCTION_RUNS[1] - INSTRUCTION_RUNS[0])
        print(f"instructions {name:11} {found[name]:>10,.0f} per request", flush=True)
    return found


def cpu_us(r: dict) -> float:
    """CPU the proxy process spent per request, in µs."""
    return r["proxy_cores"] / r["rps"] * 1e6


def render(runs: dict, shadow: dict, args: argparse.Namespace) -> str:
    results, paced, counts = runs["flat"], runs["paced"], runs["instructions"]

    def ratios(name: str, base: str, key: str, of: dict | None = None) -> list[float]:
        of = results if of is None else of
        if key == "cpu":
            return [cpu_us(a) / cpu_us(b) for a, b in zip(of[name], of[base], strict=True)]
        return [a[key] / b[key] for a, b in zip(of[name], of[base], strict=True)]

    median = statistics.median
    base = counts.get("no route")
    rows = []
    for name in results:
        n = counts.get(name)
        instr = f"{n:,.0f} | {n / base:.3f}" if n and base else "- | -"
        rows.append(
            f"| {name} | {instr} | {median([r['rps'] for r in results[name]]):,.0f} "
            f"| {median(ratios(name, 'no route', 'rps')):.3f} "
            f"| {median([r['p99_ms'] for r in paced[name]]):.2f} "
            f"| {median(ratios(name, 'no route', 'p99_ms', paced)):.2f} |"
        )

    def verdict(ok: bool) -> str:
        return "**meets**" if ok else "**MISSES**"

    def cost(name: str) -> float:
        return counts[name] / base if base and name in counts else float("nan")

    off, canary, service = cost("monolith"), cost("canary 50%"), cost("service")
    off_rps = median(ratios("monolith", "no route", "rps"))
    canary_rps = median(ratios("canary 50%", "no route", "rps"))
    shadow_rps = median(ratios("shadow", "monolith", "rps"))
    shadow_p99 = median(ratios("shadow", "monolith", "p99_ms", paced))
    shadow_p99_flat = median(ratios("shadow", "monolith", "p99_ms"))
    paced_rps = median([r["rps"] for r in paced["no route"]])
    return f"""## Proxy behaviours

`.venv/bin/python bench/behaviours_bench.py --seconds {args.seconds} --repeats {args.repeats}` on
{machine()}; one figkit worker, upstream nginx (1 worker, 1 KB JSON), all on the same 2
shared cores. Each variant is a route of one table on its own path; `no route` is a path
as deep in the table that no route matches (the plain data path).

- **Instructions per request** (callgrind; `bench/instructions_driver.py` runs a worker and
  its 8 keep-alive clients in one process, {INSTRUCTION_RUNS[0]} and then
  {INSTRUCTION_RUNS[1]} requests, and the difference of the two totals is divided by
  {INSTRUCTION_RUNS[1] - INSTRUCTION_RUNS[0]}). The same binary and requests give the same
  count whatever else the machine does (to about 0.5% here), so the cost targets are
  judged on it; the clients' share is the same in every variant.
- **Requests/s flat out** and **p99 paced**: wrk with 32 connections, flat out and paced
  at {PACE_MS} ms between a connection's requests (about {paced_rps:,.0f} req/s, under half
  of what the worker serves, so latency without queueing); every turn runs each variant
  once in a rotated order, ratios are against `no route` of the same turn, and figures
  are medians over {args.repeats} turns. One flat-out run differs from the next by up to
  20% on this shared machine.

| variant | instructions/request | vs no route | req/s flat out | vs no route | p99 ms paced | vs no route |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

- **Every behaviour off** (a route in `monolith` mode: its policy runs no behaviour, so it
  has no chain at all) against the plain data path: {off:.3f}x the instructions
  ({(off_rps - 1) * 100:+.1f}% requests/s flat out); target within 3%: {verdict(off <= 1.03)}.
- **Canary and breaker on** (50%, this user on the service, the breaker closed and
  counting): {canary:.3f}x the instructions ({(canary_rps - 1) * 100:+.1f}% requests/s flat
  out); target within 5%: {verdict(canary <= 1.05)}. Cut over (`service`: fallback and the
  rollback watch armed): {service:.3f}x.
- **Shadow on against off** (`shadow` against `monolith`), the shadow service {SLOW_MS} ms
  slower than the monolith: requests/s flat out {(shadow_rps - 1) * 100:+.1f}% (target within
  15%: {verdict(shadow_rps >= 0.85)}); the client's p99 {shadow_p99:.2f}x paced (target within
  10%: {verdict(shadow_p99 <= 1.10)}) and {shadow_p99_flat:.2f}x flat out, where it follows
  throughput. The mirror compared {shadow.get("compared", 0):,} requests over the shadow
  runs ({shadow.get("mismatched", 0)} mismatched, noise learned:
  {", ".join(shadow.get("noise", [])) or "none"}; {shadow.get("dropped", 0):,} dropped with the
  queue full): at most `max_per_second` (200) a second are picked per worker, and
  `concurrency = 8` senders against a {SLOW_MS} ms service send about
  {8 * 1000 // SLOW_MS} a second. Shadow's instructions are not counted: how many requests a
  second are mirrored depends on time, not on the request count.
"""


if __name__ == "__main__":
    main()
