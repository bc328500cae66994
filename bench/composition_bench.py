"""The order detail JSON route (/api/orders/NUMBER/), read by the old join against composed from
the catalog service, with the catalog answering at once, 50 ms late, and never: latency p50 and
p99, side by side in one run. Writes "## API composition" in bench/RESULTS.md.

    .venv/bin/python bench/composition_bench.py [--seconds 10] [--requests 1500]
        [--concurrency 1,8] [--no-write]

Everything is real and on loopback: the monolith seeded (`seed --size small`, SQLite), the catalog
service (`python -m extracted.catalog`) filled by the seam's backfill (relay and consumer) until
both sides reconcile, each monolith under uvicorn as deployed (DJANGO_DEBUG=0, traces off), one
per read mode and catalog, and a small delaying proxy in front of the catalog (this script,
--role delay-proxy) for the slow ones. Every run is bounded by --seconds and --requests; every
process started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_file import machine, write_section  # noqa: E402

SECTION = "## API composition"
MONOLITH_MANAGE = str(REPO / "legacy_monolith" / "manage.py")
CATALOG_MANAGE = str(REPO / "extracted" / "catalog" / "manage.py")
DEADLINE_S = 0.3  # COMPOSITION_TIMEOUT_S, the default
LATE_MS = 50
NEVER_MS = 3_600_000  # accepts, reads, and does not answer within any deadline
ORDERS = 40  # orders read in turn, each with 3 or more products
MIN_REQUESTS = 100


class BenchError(Exception):
    pass


# -- helpers run in their own process (--role) --------------------------------------------------


def role_sessions(args: argparse.Namespace) -> list[dict]:
    """In the monolith: orders with 3+ products, and a logged-in session of each one's customer."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Count

    from legacy_monolith.orders.models import Order

    orders = (
        Order.objects.annotate(products=Count("lines__variant__product", distinct=True))
        .filter(products__gte=3)
        .select_related("customer")
        .order_by("pk")[:ORDERS]
    )
    found = []
    for order in orders:
        session = SessionStore()
        session[SESSION_KEY] = str(order.customer.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = order.customer.get_session_auth_hash()
        session.create()
        found.append(
            {"number": order.number, "session": session.session_key, "products": order.products}
        )
    return found


def role_delay_proxy(args: argparse.Namespace) -> None:
    """A keep-alive HTTP/1.1 proxy for GETs that answers as --upstream does, --delay-ms later."""
    import uvloop

    delay = args.delay_ms / 1000

    async def serve(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: httpx.AsyncClient
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await asyncio.sleep(delay)
                response = await upstream.get(path)
                kind = response.headers.get("content-type", "text/plain").encode()
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                             % (response.status_code, kind, len(response.content)) + response.content)  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, httpx.HTTPError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        upstream = httpx.AsyncClient(base_url=args.upstream, trust_env=False, timeout=30)
        server = await asyncio.start_server(
            lambda r, w: serve(r, w, upstream), "127.0.0.1", args.port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    uvloop.run(run())


ROLES = {"sessions": role_sessions, "delay-proxy": role_delay_proxy}


# -- the processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Processes:
    tmp: Path
    catalog_port: int = field(default_factory=free_port)
    # Queues of this run only (filesystem broker under its var dir, but say so anyway).
    queue_prefix: str = field(default_factory=lambda: f"b{uuid.uuid4().hex[:8]}.")
    running: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def catalog_url(self) -> str:
        return f"http://127.0.0.1:{self.catalog_port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "CATALOG_DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}  # fmt: skip
        env.update(
            FIGKIT_VAR_DIR=str(self.tmp / "var"),
            CATALOG_URL=self.catalog_url,
            SEAM_TOKEN="composition-bench",
            SEAM_QUEUE_PREFIX=self.queue_prefix,
            DJANGO_DEBUG="0",
            OTEL_SDK_DISABLED="true",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def run(self, *command: str, timeout: float = 300, **env: str) -> str:
        done = subprocess.run([sys.executable, *command], cwd=REPO, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        if done.returncode != 0:
            raise BenchError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}"
            )
        return done.stdout

    def start(self, name: str, *command: str, **env: str) -> None:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - the child keeps it
        self.running[name] = subprocess.Popen([sys.executable, *command], cwd=REPO, env=self.env(**env),
                                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()

    def wait_http(self, name: str, url: str, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise BenchError(
                    f"{name} exited:\n{(self.tmp / f'{name}.log').read_text()[-2000:]}"
                )
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise BenchError(f"{name} did not answer {url} within {deadline_s:.0f} s")

    def stop(self, name: str) -> None:
        proc = self.running.pop(name)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def monolith(self, name: str, **env: str) -> str:
        port = free_port()
        self.start(name, "-m", "uvicorn", "legacy_monolith.config.asgi:application", "--host", "127.0.0.1",
                   "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
                   **env)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        self.wait_http(name, f"{url}/api/health")
        return url

    def delay_proxy(self, name: str, delay_ms: int) -> str:
        port = free_port()
        self.start(name, __file__, "--role", "delay-proxy", "--port", str(port),
                   "--upstream", self.catalog_url, "--delay-ms", str(delay_ms))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return url
            except OSError:
                if time.monotonic() > deadline or self.running[name].poll() is not None:
                    raise BenchError(f"{name} did not start") from None
                time.sleep(0.1)


def prepare(procs: Processes) -> list[dict]:
    """The seeded monolith, the catalog service holding its catalogue by the seam's backfill."""
    procs.run(MONOLITH_MANAGE, "migrate", "-v0")
    procs.run(MONOLITH_MANAGE, "seed", "--size", "small")
    procs.start("catalog", "-m", "extracted.catalog", "--port", str(procs.catalog_port))
    procs.wait_http("catalog", f"{procs.catalog_url}/healthz")
    procs.start("relay", MONOLITH_MANAGE, "relay_outbox")
    procs.start("consume", CATALOG_MANAGE, "consume")
    procs.run(MONOLITH_MANAGE, "backfill", "catalog", "--wait", "120", timeout=180)
    report = json.loads(procs.run(MONOLITH_MANAGE, "reconcile", "catalog", "--json"))
    if report["differences"]:
        raise BenchError(
            f"the catalog service differs after the backfill: {report['differences'][:5]}"
        )
    procs.stop("relay")
    procs.stop("consume")
    return json.loads(procs.run(__file__, "--role", "sessions").strip().splitlines()[-1])


# -- the load ---------------------------------------------------------------------------------


@dataclass
class Run:
    reads: str
    catalog: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    app: list[float] = field(default_factory=list)  # the view's own time (Server-Timing: app)
    errors: int = 0
    unavailable: int = 0  # answers with a product missing for now (not a product gone)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def waited(self) -> int:
        """Answers that took the deadline or more: the service was asked and did not answer."""
        return sum(latency >= DEADLINE_S for latency in self.latencies)

    def quantile(self, q: float, of: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if of is None else of)
        return ordered[min(int(len(ordered) * q), len(ordered) - 1)] * 1000 if ordered else 0.0


def load(url: str, orders: list[dict], run: Run, args: argparse.Namespace) -> Run:
    """`run.concurrency` clients in a closed loop, each on its own keep-alive connection, for
    --requests or --seconds, whichever first; but 100 requests at least (for a p99), unless
    that takes 4 x --seconds."""
    lock = threading.Lock()
    count = iter(range(10**9))
    stop_at = 0.0  # set once warm

    def client() -> None:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
            while True:
                n, now = next(count), time.monotonic()
                if n >= args.requests or now > stop_at + 3 * args.seconds:
                    return
                if now > stop_at and n >= MIN_REQUESTS:
                    return
                order = orders[n % len(orders)]
                started = time.perf_counter()
                response = http.get(f"/api/orders/{order['number']}/",
                                    cookies={"sessionid": order["session"]})  # fmt: skip
                took = time.perf_counter() - started
                with lock:
                    if response.status_code != 200:
                        run.errors += 1
                        continue
                    run.latencies.append(took)
                    timing = response.headers.get("server-timing", "app;dur=0")
                    run.app.append(float(timing.partition("dur=")[2] or 0) / 1000)
                    missing = response.json()["missing"]
                    reasons = {m["reason"] for m in missing} - {"not_found"}
                    run.unavailable += bool(reasons)
                    for reason in reasons:
                        run.reasons[reason] = run.reasons.get(reason, 0) + 1

    with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:  # warm: connections,
        for order in orders[:10]:  # Django's caches, the composer's pool
            http.get(f"/api/orders/{order['number']}/", cookies={"sessionid": order["session"]})
    started = time.monotonic()
    stop_at = started + args.seconds
    threads = [threading.Thread(target=client) for _ in range(run.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


def service_time(catalog_url: str, requests: int = 200) -> tuple[float, float]:
    """The catalog service's p50 for one product's GET, one at a time and four at once (ms)."""
    with httpx.Client(base_url=catalog_url, timeout=10, trust_env=False) as http:
        slugs = [p["slug"] for p in http.get("/api/products/?limit=50").json()["results"]]
        one = []
        for n in range(requests):
            started = time.perf_counter()
            http.get(f"/api/products/{slugs[n % len(slugs)]}/")
            one.append(time.perf_counter() - started)
    clients = [httpx.Client(base_url=catalog_url, timeout=10, trust_env=False) for _ in range(4)]
    four = []
    with ThreadPoolExecutor(4) as pool:
        for n in range(requests // 4):
            started = time.perf_counter()
            path = f"/api/products/{slugs[n % len(slugs)]}/"
            list(pool.map(lambda c, path=path: c.get(path), clients))
            four.append(time.perf_counter() - started)
    for c in clients:
        c.close()
    return statistics.median(one) * 1000, statistics.median(four) * 1000


def same_answers(join_url: str, compose_url: str, orders: list[dict]) -> int:
    """Orders whose composed answer differs from the joined one (details of a missing part aside)."""

    def answer(url: str, order: dict) -> dict:
        data = httpx.get(f"{url}/api/orders/{order['number']}/",
                         cookies={"sessionid": order["session"]}, timeout=10).json()  # fmt: skip
        return {**data, "missing": [{**m, "detail": ""} for m in data["missing"]]}

    return sum(answer(join_url, o) != answer(compose_url, o) for o in orders)


@dataclass
class Figures:
    runs: list[Run]
    differing: int  # orders whose composed answer differs from the joined one
    service_one_ms: float
    service_four_ms: float


def bench(procs: Processes, orders: list[dict], args: argparse.Namespace) -> Figures:
    late = procs.delay_proxy("catalog-late", LATE_MS)
    never = procs.delay_proxy("catalog-never", NEVER_MS)
    off = {"COMPOSITION_BREAKER_OPEN_S": "0"}
    servers = {  # (reads, catalog): monolith URL
        ("join", "at once"): procs.monolith("join", ORDER_DETAIL_READS="join"),
        ("compose", "at once"): procs.monolith("compose", ORDER_DETAIL_READS="compose", **off),
        ("compose", f"{LATE_MS} ms late"): procs.monolith(
            "compose-late", ORDER_DETAIL_READS="compose", CATALOG_URL=late, **off
        ),
        ("compose", "never"): procs.monolith(
            "compose-never", ORDER_DETAIL_READS="compose", CATALOG_URL=never, **off
        ),
        ("compose + breaker", "never"): procs.monolith(
            "compose-never-breaker", ORDER_DETAIL_READS="compose", CATALOG_URL=never
        ),
    }
    differing = same_answers(servers["join", "at once"], servers["compose", "at once"], orders)
    one, four = service_time(procs.catalog_url)
    runs = []
    for concurrency in args.concurrency:
        for catalog in ("at once", f"{LATE_MS} ms late", "never"):
            # The join never asks the catalog: it runs again beside each catalog, as a control.
            for reads in ("join", "compose", "compose + breaker"):
                url = servers.get((reads, catalog)) or (
                    servers["join", "at once"] if reads == "join" else None
                )
                if url is None:
                    continue
                run = load(url, orders, Run(reads, catalog, concurrency), args)
                print(f"{concurrency:>2} {catalog:>10} {reads:<18} n={len(run.latencies):>5} "
                      f"p50 {run.quantile(0.5):7.2f} ms  p99 {run.quantile(0.99):7.2f} ms  "
                      f"app p99 {run.quantile(0.99, run.app):7.2f} ms  "
                      f"errors {run.errors}  unavailable {run.unavailable}", flush=True)  # fmt: skip
                runs.append(run)
    return Figures(runs, differing, one, four)


# -- the section ------------------------------------------------------------------------------


def render(figures: Figures, orders: list[dict], command: str, args: argparse.Namespace) -> str:
    runs, differing = figures.runs, figures.differing

    def find(reads: str, catalog: str, concurrency: int) -> Run | None:
        return next((r for r in runs if (r.reads, r.catalog, r.concurrency) == (reads, catalog, concurrency)), None)  # fmt: skip

    products = statistics.mean(o["products"] for o in orders)
    lines = [
        SECTION,
        "",
        f"`{command}` on {machine()}, {date.today().isoformat()}. The order detail JSON route "
        "(`/api/orders/NUMBER/`) of a seeded monolith (`seed --size small`, SQLite), each "
        "monolith under uvicorn (one process, DJANGO_DEBUG=0, traces off), the catalog service "
        "(`python -m extracted.catalog`, SQLite) filled by the seam's backfill and reconciled "
        f"equal. {len(orders)} orders read in turn, {products:.1f} products each on average "
        "(one GET /api/products/SLUG/ a product: the service has no call for many). "
        "**join**: ORDER_DETAIL_READS=join, the lines joined with the catalog's tables in the "
        "monolith's database; it never asks the service, and runs again beside each catalog as a "
        "control. **compose**: ORDER_DETAIL_READS=compose, the products asked of the service in "
        f"parallel within COMPOSITION_TIMEOUT_S={DEADLINE_S} s (extracted/seam/composition.py), "
        f"breaker off; **+ breaker**: the default breaker (open 2 s after 5 failed calls in a row, then one page tries the service). "
        f"Catalog **{LATE_MS} ms late** and **never** (accepts, reads, never answers): a delaying "
        "proxy in front of the same service. Clients in a closed loop on keep-alive connections "
        f"for {args.seconds:g} s or {args.requests} requests, whichever first (but {MIN_REQUESTS} "
        f"at least, up to {4 * args.seconds:g} s); latency seen by "
        f"the client, on the same {os.cpu_count()} cores as every process here; view p99: the view's own time "
        f"(the monolith's Server-Timing), the rest is queueing outside it. Unavailable: answers marked "
        f"partial with a product missing for now (a product gone from the catalog aside). "
        f"Composed answers equal to the joined ones at a catalog answering at once: "
        f"{len(orders) - differing} of {len(orders)} orders.",
        "",
        "| clients | catalog | reads | requests | p50 | p99 | view p99 | req/s | unavailable | errors |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        why = ", ".join(f"{k} {v}" for k, v in sorted(run.reasons.items()))
        lines.append(
            f"| {run.concurrency} | {run.catalog} | {run.reads} | {len(run.latencies):,} | "
            f"{run.quantile(0.5):.1f} ms | {run.quantile(0.99):.1f} ms | "
            f"{run.quantile(0.99, run.app):.1f} ms | "
            f"{len(run.latencies) / run.seconds:,.0f} | "
            f"{100 * run.unavailable / max(len(run.latencies), 1):.0f}%{f' ({why})' if why else ''} | "
            f"{run.errors} |"
        )
    reading = []
    for c in args.concurrency:
        join, now = find("join", "at once", c), find("compose", "at once", c)
        late = find("compose", f"{LATE_MS} ms late", c)
        never, breaker = find("compose", "never", c), find("compose + breaker", "never", c)
        if not (join and now and late and never and breaker):
            continue
        busy = (
            ""
            if c == 1
            else f" ({c} clients keep the {os.cpu_count()} cores busy: the join alone waits "
            f"p50 {join.quantile(0.5):.0f} ms, queueing)"
        )
        added = late.quantile(0.5) - now.quantile(0.5)
        overlap = (
            f"one delay, not {products:.1f}: the calls overlap"
            if added >= 0.8 * LATE_MS
            else "less than the delay: with the cores saturated, the wait overlaps other pages' work"
        )
        ran_out = (
            f"; {late.unavailable} of {len(late.latencies)} answers ran into the deadline and came partial"
            if late.unavailable
            else ""
        )
        reading.append(
            f"**{c} client{'s' if c > 1 else ''}**{busy}: composing costs "
            f"{now.quantile(0.5) - join.quantile(0.5):+.1f} ms at p50 and "
            f"{now.quantile(0.99) - join.quantile(0.99):+.1f} ms at p99 over the join with the "
            f"catalog answering at once. {LATE_MS} ms late, the p50 is {added:+.1f} ms over that, "
            f"{overlap}{ran_out}. Never answering, every answer is still a 200, marked partial, "
            f"p50 {never.quantile(0.5):.0f} ms and p99 {never.quantile(0.99):.0f} ms: the "
            f"{DEADLINE_S * 1000:.0f} ms deadline plus the page's own work"
            f"{' and queueing' if c > 1 else ''}. With the breaker the p50 is "
            f"{breaker.quantile(0.5):.1f} ms (pages skip the service while it is open: "
            f"circuit_open), and {breaker.waited} of {len(breaker.latencies)} pages waited the "
            f"deadline: the trials, one every 2 s (p99 {breaker.quantile(0.99):.0f} ms)."
        )
    reading.append(
        f"Why composing costs what it does at once: the service takes {figures.service_one_ms:.1f} ms "
        f"for one product (p50, asked one at a time) and {figures.service_four_ms:.1f} ms for four "
        "asked at once. One process running Django views, it does them one after the other: "
        "parallel calls overlap the waiting (the 50 ms rows), not the service's own work. A call "
        "for many products at once (`GET /api/products/?slugs=a,b,c`, one query) would make an "
        "order one request; the service has none yet."
    )
    lines += ["", *reading]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--delay-ms", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10, help="length of a row's run")
    parser.add_argument("--requests", type=int, default=1500, help="most requests of one row")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8],
                        help="clients in a closed loop, one row set each")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.role == "delay-proxy":
        role_delay_proxy(args)
        return
    if args.role:
        print(json.dumps(ROLES[args.role](args)), flush=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes(Path(tempfile.mkdtemp(prefix="figkit-composition-bench-")))
    try:
        orders = prepare(procs)
        if len(orders) < 10:
            raise BenchError(f"only {len(orders)} orders with 3+ products after the seed")
        figures = bench(procs, orders, args)
    except BenchError as exc:
        raise SystemExit(f"composition bench: {exc}\n(logs in {procs.tmp})") from None
    finally:
        procs.stop_all()
    shutil.rmtree(procs.tmp, ignore_errors=True)  # kept when the run failed: its logs are there
    command = " ".join([".venv/bin/python bench/composition_bench.py", *sys.argv[1:]])
    text = render(figures, orders, command, args)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
