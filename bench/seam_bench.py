"""The data seam on PostgreSQL + RabbitMQ with publisher confirms: how fast relays drain the
outbox, what the broker's confirm costs, how fast one consumer applies a queue, and the lag from
a change to its follower at a steady write rate. Writes "## Data seam" in bench/RESULTS.md.

    .venv/bin/python bench/seam_bench.py [--events 20000] [--repeats 3] [--rates 200,50,20]
        [--seconds 30] [--writers 4] [--consumer-seconds 60] [--postgres-url URL] [--no-write]

Targets (issue): at least 1,000 events/s relayed; end-to-end lag p99 under 1 s at 200 events/s.

Everything runs as the seam runs: `manage.py relay_outbox` and `manage.py consume` as processes
of their own, writers changing the catalog through the monolith's ORM (capture and publish()
write the outbox), on two fresh PostgreSQL databases (dropped at the end) and a RabbitMQ virtual
host of the bench's own (made with rabbitmqctl, deleted at the end), so no other queue is
touched. Processes run with DJANGO_DEBUG=0, as deployed. Every wait is bounded, and every
process started is stopped.

The script runs its own helpers in the monolith's environment: `--role prefill|writer|sendcost`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_file import machine, write_section  # noqa: E402

SECTION = "## Data seam"
MANAGE = {
    "monolith": str(REPO / "legacy_monolith" / "manage.py"),
    "catalog": str(REPO / "extracted" / "catalog" / "manage.py"),
}
SETTINGS = {"monolith": "legacy_monolith.config.settings", "catalog": "extracted.catalog.settings"}
QUEUE = "seam.catalog"  # the monolith's catalog events go to the catalog service's inbox
SCRATCH_QUEUE = "seam.bench_scratch"
PRODUCTS = 200
PREFILL_TX = 500  # changes per transaction when pre-filling the outbox
WARMUP_S = 3.0  # lag: the events of a run's first seconds are left out (connections, caches)
TRACING_OFF = {"OTEL_SDK_DISABLED": "true"}
TARGET_RATE = 1000
TARGET_P99_S = 1.0
CONSUMER_BATCHES = (1, 100)  # one by one (the consumer before batches), and its default


# -- helpers run inside the monolith's Django (--role) -----------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS["monolith"])
    import django

    django.setup()


def _catalog_rows(products: int) -> list:
    """Categories, brands, tags and `products` products with a variant each, made through the
    ORM as the backoffice makes them (their creation is captured too)."""
    from decimal import Decimal

    from django.db import transaction

    from legacy_monolith.catalog.models import Brand, Category, Product, ProductVariant, Tag

    with transaction.atomic():
        root, _ = Category.objects.get_or_create(slug="lighting", defaults={"name": "Lighting"})
        lamps, _ = Category.objects.get_or_create(
            slug="lamps", defaults={"name": "Lamps", "parent": root}
        )
        brands = [
            Brand.objects.get_or_create(slug=s, defaults={"name": s.title()})[0]
            for s in ("lumen", "north")
        ]
        for name in ("new", "sale", "eco"):
            Tag.objects.get_or_create(name=name)
        have = list(Product.objects.filter(slug__startswith="bench-").order_by("pk"))
        for n in range(len(have), products):
            product = Product.objects.create(name=f"Lamp {n}", slug=f"bench-{n}", category=lamps,
                                             brand=brands[n % 2], base_price=Decimal("20.00"))  # fmt: skip
            ProductVariant.objects.create(product=product, sku=f"BENCH-{n}", price=Decimal("20.00"))
            have.append(product)
    return have


def _change(rng: random.Random, products: list, tags: list, i: int) -> None:
    """One catalog change as the backoffice makes it (the mix of tests/extracted/catalog_writes.py)."""
    from decimal import Decimal

    product = rng.choice(products)
    move = rng.random()
    if move < 0.5:
        product.base_price = Decimal(rng.randrange(100, 99900)) / 100
        product.save()
    elif move < 0.7:
        variant = product.variants.first()
        variant.price = Decimal(rng.randrange(100, 99900)) / 100
        variant.save()
    elif move < 0.85:
        product.tags.add(rng.choice(tags))
    elif move < 0.95:
        product.tags.remove(rng.choice(tags))
    else:
        product.name = f"Lamp {product.pk} mk{i}"
        product.save()


def role_prefill(args: argparse.Namespace) -> dict:
    """`events` changes through the ORM, PREFILL_TX to a transaction; each writes its event."""
    _django()
    from django.db import transaction

    from extracted.seam.models import OutboxEvent
    from legacy_monolith.catalog.models import Tag

    products = _catalog_rows(args.products)
    tags = list(Tag.objects.filter(name__in=("new", "sale", "eco")))
    rng = random.Random(args.seed)
    before = OutboxEvent.objects.count()
    started = time.perf_counter()
    for start in range(0, args.events, PREFILL_TX):
        with transaction.atomic():
            for i in range(start, min(start + PREFILL_TX, args.events)):
                _change(rng, products, tags, i)
    seconds = time.perf_counter() - started
    return {
        "changes": args.events,
        "events": OutboxEvent.objects.count() - before,
        "seconds": seconds,
    }


def role_writer(args: argparse.Namespace) -> dict:
    """Changes at a steady `rate` for `seconds`, each its own transaction, on a fixed schedule
    (a late change does not push the next ones back)."""
    _django()
    from legacy_monolith.catalog.models import Product, Tag

    products = list(Product.objects.filter(slug__startswith="bench-").order_by("pk"))
    tags = list(Tag.objects.filter(name__in=("new", "sale", "eco")))
    rng = random.Random(args.seed)
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    late = 0.0
    started = time.monotonic()
    for i in range(total):
        due = started + i * interval
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        else:
            late = max(late, now - due)
        _change(rng, products, tags, i)
    return {"changes": total, "seconds": time.monotonic() - started, "late_max_s": late}


def role_sendcost(args: argparse.Namespace) -> dict:
    """Microseconds per event of the transport alone (no database): `send()` one event at a time
    with and without publisher confirms, and the relay's Publisher in waves, on `events` real
    envelopes sent to a scratch queue. Best of three rounds, interleaved."""
    _django()
    from django.conf import settings

    from extracted.seam import transport
    from extracted.seam.models import OutboxEvent
    from extracted.seam.relay import envelope_of

    envelopes = [envelope_of(e) for e in OutboxEvent.objects.order_by("seq")[: args.events]]
    confirming = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)

    def use(options: dict) -> None:
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        transport.celery_app.cache_clear()
        transport.reset_connections()

    def one_by_one(batch: list[dict]) -> None:
        for envelope in batch:
            transport.send(envelope, SCRATCH_QUEUE, {})

    def in_waves(size: int):
        def run(batch: list[dict]) -> None:
            publisher = transport.Publisher()
            try:
                for start in range(0, len(batch), size):
                    for envelope in batch[start : start + size]:
                        publisher.publish(envelope, SCRATCH_QUEUE, {})
                    publisher.confirm()
            finally:
                publisher.close()

        return run

    variants: dict[str, tuple[dict, object]] = {
        "send(), one event at a time, no confirms": ({}, one_by_one),
        "send(), one event at a time, a confirm each": (confirming, one_by_one),
    }
    if hasattr(transport, "Publisher"):
        variants["Publisher, waves of 1 (one aggregate)"] = (confirming, in_waves(1))
        variants["Publisher, waves of 50"] = (confirming, in_waves(50))
    best: dict[str, float] = {}
    for _ in range(3):
        for name, (options, sender) in variants.items():
            use(options)
            for envelope in envelopes:
                envelope["id"] = str(uuid.uuid4())  # a new message each time
            sender(envelopes[:20])  # connect, declare
            started = time.perf_counter()
            sender(envelopes)  # type: ignore[operator]
            cost = (time.perf_counter() - started) / len(envelopes) * 1e6
            best[name] = min(best.get(name, cost), cost)
    return {"events": len(envelopes), "us_per_event": best}


def role_relay_one_by_one(args: argparse.Namespace) -> dict:
    """`manage.py relay_outbox` as it was before waves: the same Relay, sending one event at a
    time with `transport.send` (Celery's send_task, then the broker's confirm)."""
    _django()
    from extracted.seam import transport
    from extracted.seam.relay import Relay

    stopping: list[bool] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    print("relay: one event at a time; Ctrl-C stops", flush=True)
    relay = Relay(send=lambda envelope, destination, headers: transport.send(envelope, destination, headers))  # fmt: skip
    return {"sent": relay.run(should_stop=lambda: bool(stopping)).sent}


ROLES = {
    "prefill": role_prefill,
    "writer": role_writer,
    "sendcost": role_sendcost,
    "relay-one-by-one": role_relay_one_by_one,
}


# -- servers and processes ----------------------------------------------------------------------


class BenchError(Exception):
    pass


@dataclass
class Servers:
    postgres: str  # a server URL (any database on it)
    tmp: Path
    broker: str = ""
    vhost: str = ""
    databases: dict[str, str] = field(default_factory=dict)

    def create(self) -> None:
        import psycopg

        tag = uuid.uuid4().hex[:8]
        base = self.postgres.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            for side in ("monolith", "catalog"):
                name = f"figkit_seam_bench_{side}_{tag}"
                conn.execute(f'CREATE DATABASE "{name}"')
                self.databases[side] = f"{base}/{name}"
        self.vhost = f"figkit_seam_bench_{tag}"
        _rabbitmqctl("add_vhost", self.vhost)
        _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        self.broker = f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"

    def drop(self) -> None:
        import psycopg

        base = self.postgres.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            for url in self.databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        if self.vhost:
            with contextlib.suppress(BenchError):
                _rabbitmqctl("delete_vhost", self.vhost)

    def env(self, side: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "CATALOG_DATABASE_URL", "CELERY_BROKER_URL",
                            "DJANGO_SETTINGS_MODULE", "OTEL_SDK_DISABLED"}}  # fmt: skip
        env.update(FIGKIT_VAR_DIR=str(self.tmp / "var"), CELERY_BROKER_URL=self.broker,
                   DJANGO_DEBUG="0", PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE=SETTINGS[side],
                   **(extra or {}))  # fmt: skip
        env["DATABASE_URL" if side == "monolith" else "CATALOG_DATABASE_URL"] = self.databases[side]
        return env

    def sql(self, side: str, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.databases[side], autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def one(self, side: str, query: str, params: tuple = ()) -> tuple:
        return self.sql(side, query, params)[0]

    def queue_depth(self, name: str) -> int:
        from kombu import Connection

        with Connection(self.broker, connect_timeout=5) as conn:
            return conn.default_channel.queue_declare(name, passive=True).message_count

    def purge(self, name: str) -> None:
        from kombu import Connection

        with Connection(self.broker, connect_timeout=5) as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_purge(name)  # a queue not declared yet holds nothing


def _rabbitmqctl(*args: str) -> None:
    try:
        done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise BenchError(
            "rabbitmqctl is not on PATH: the bench makes a vhost of its own with it"
        ) from None
    if done.returncode != 0:
        raise BenchError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, from /proc; 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _broker_pid() -> int | None:
    found = subprocess.run(["pgrep", "-o", "beam.smp"], capture_output=True, text=True).stdout
    return int(found.split()[0]) if found.strip() else None


class Processes:
    """The relays, consumers and writers this bench started, each in its own session."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, side: str, *args: str, role: bool = False,
              env: dict[str, str] | None = None) -> subprocess.Popen:  # fmt: skip
        argv = (
            [sys.executable, __file__, "--role", *args]
            if role
            else [sys.executable, MANAGE[side], *args]
        )
        log = open(self.servers.tmp / f"{name}.log", "w")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(argv, cwd=REPO, env=self.servers.env(side, env), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.servers.tmp / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def check(self, *names: str) -> None:
        for name in names:
            if self.procs[name].poll() is not None:
                raise BenchError(
                    f"{name} exited {self.procs[name].returncode}:\n{self.log(name)[-3000:]}"
                )

    def wait_line(self, name: str, text: str, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while text not in self.log(name):
            self.check(name)
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{name} did not say {text!r} in {deadline_s} s:\n{self.log(name)[-3000:]}"
                )
            time.sleep(0.05)

    def result(self, name: str, timeout: float) -> dict:
        """The JSON a --role helper prints last."""
        try:
            code = self.procs[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"{name} ran past {timeout:.0f} s:\n{self.log(name)[-3000:]}"
            ) from None
        self.procs.pop(name)
        if code != 0:
            raise BenchError(f"{name} exited {code}:\n{self.log(name)[-3000:]}")
        return json.loads(self.log(name).strip().splitlines()[-1])

    def stop(self, name: str) -> float:
        """Stop a process (SIGTERM, then SIGKILL after 20 s); the CPU seconds it had used."""
        proc = self.procs.pop(name)
        cpu = _cpu_seconds(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return cpu

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def manage(servers: Servers, side: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, MANAGE[side], *args], cwd=REPO, env=servers.env(side),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(
            f"{side} manage.py {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done.stdout


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


# -- the phases ---------------------------------------------------------------------------------


@dataclass
class RelayRun:
    relays: int
    tracing: bool
    rate: float  # events/s
    cpu_us: float  # the relays' CPU per event
    broker_cpu_us: float  # RabbitMQ's CPU per event (0: not measured)
    one_by_one: bool = False  # the relay as it was: one event, one confirm, at a time


@dataclass
class Figures:
    prefill: dict = field(default_factory=dict)
    events: int = 0
    waves: dict = field(default_factory=dict)
    relay: list[RelayRun] = field(default_factory=list)
    sendcost: dict = field(default_factory=dict)
    consumer: dict = field(default_factory=dict)
    lag: list[dict] = field(default_factory=list)


def prefill(servers: Servers, procs: Processes, args: argparse.Namespace, figures: Figures) -> None:
    """Fill the monolith's outbox through its ORM, then set the rows aside (bench_hold): every
    relay run starts from the same outbox."""
    procs.start("prefill", "monolith", "prefill", "--events", str(args.events), role=True)
    figures.prefill = procs.result("prefill", timeout=1800)
    servers.sql("monolith", "CREATE TABLE bench_hold AS SELECT * FROM seam_outbox ORDER BY seq")
    servers.sql("monolith", "TRUNCATE seam_outbox")
    (figures.events,) = servers.one("monolith", "SELECT count(*) FROM bench_hold")
    # Waves the relay sends a batch of 200 in: the most events of one aggregate in the batch.
    (mean, most) = servers.one(
        "monolith",
        "SELECT avg(m), max(m) FROM (SELECT max(n) AS m FROM (SELECT seq, count(*) OVER ("
        " PARTITION BY (seq - 1) / 200, aggregate_type, aggregate_id ORDER BY seq) AS n"
        " FROM bench_hold) AS x GROUP BY (seq - 1) / 200) AS y",
    )
    figures.waves = {"mean": float(mean), "max": int(most)}


def relay_run(servers: Servers, procs: Processes, relays: int, tracing: bool, deadline_s: float,
              one_by_one: bool = False) -> RelayRun:  # fmt: skip
    """Start `relays` relay processes on an empty outbox, put the held events back in one
    transaction, and time from its commit to the last event marked sent (sent_at: the relay's
    clock, this machine's). The broker must then hold each event once."""
    import psycopg

    servers.purge(QUEUE)
    servers.sql("monolith", "TRUNCATE seam_outbox")
    names = [f"relay-{relays}-{n}{'-one-by-one' if one_by_one else ''}" for n in range(relays)]
    env = None if tracing else TRACING_OFF
    for name in names:
        if one_by_one:
            procs.start(name, "monolith", "relay-one-by-one", role=True, env=env)
        else:
            procs.start(name, "monolith", "relay_outbox", env=env)
    for name in names:
        procs.wait_line(name, "Ctrl-C stops")
    time.sleep(0.5)  # past their first look at the empty outbox
    cpu0 = {name: _cpu_seconds(procs.procs[name].pid) for name in names}
    broker = _broker_pid()
    broker0 = _cpu_seconds(broker) if broker else 0.0
    with psycopg.connect(servers.databases["monolith"]) as conn:
        conn.execute("INSERT INTO seam_outbox SELECT * FROM bench_hold")
        conn.execute("ANALYZE seam_outbox")
        conn.commit()
        committed = time.time()
    deadline = time.monotonic() + deadline_s
    while servers.one("monolith", "SELECT count(*) FROM seam_outbox WHERE sent_at IS NULL")[0]:
        procs.check(*names)
        if time.monotonic() > deadline:
            raise BenchError(f"{relays} relay(s) did not drain the outbox in {deadline_s:.0f} s")
        time.sleep(0.1)
    broker_cpu = (_cpu_seconds(broker) - broker0) if broker else 0.0
    (last,) = servers.one("monolith", "SELECT extract(epoch FROM max(sent_at)) FROM seam_outbox")
    cpu = sum(procs.stop(name) - cpu0[name] for name in names)
    (events,) = servers.one("monolith", "SELECT count(*) FROM seam_outbox")
    depth = servers.queue_depth(QUEUE)
    if depth != events:
        raise BenchError(f"{relays} relay(s) sent {events} events, and the queue holds {depth}")
    return RelayRun(relays, tracing, events / (float(last) - committed), cpu / events * 1e6,
                    broker_cpu / events * 1e6, one_by_one)  # fmt: skip


def consumer_run(servers: Servers, procs: Processes, seconds: float, batch: int) -> dict:
    """One `consume --batch BATCH` process on the queue the last relay run filled (in seq order),
    for at most `seconds`: events applied per second from its first inbox row to its last
    (received_at)."""
    queued = servers.queue_depth(QUEUE)
    procs.start(f"consumer-{batch}", "catalog", "consume", "--batch", str(batch))
    procs.wait_line(f"consumer-{batch}", "Ctrl-C stops")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        procs.check(f"consumer-{batch}")
        if servers.one("catalog", "SELECT count(*) FROM seam_inbox")[0] >= queued:
            break
        time.sleep(0.5)
    cpu = procs.stop(f"consumer-{batch}")
    servers.purge(QUEUE)  # what it did not reach; the lag runs start on an empty queue
    first, last, n, applied = servers.one(
        "catalog",
        "SELECT extract(epoch FROM min(received_at)), extract(epoch FROM max(received_at)),"
        " count(*), count(*) FILTER (WHERE outcome = 'applied') FROM seam_inbox",
    )
    (dead,) = servers.one("catalog", "SELECT count(*) FROM seam_dead_letter")
    return {"queued": queued, "events": n, "applied": applied, "dead": dead,
            "rate": (n - 1) / (float(last) - float(first)), "cpu_ms": cpu / n * 1e3}  # fmt: skip


def lag_run(servers: Servers, procs: Processes, rate: float, args: argparse.Namespace) -> dict:
    """Changes at a steady `rate` through the monolith's ORM, one relay and one consumer running:
    the lag of each event from its outbox row's created_at to its inbox row's received_at, both
    stamped by Django's timezone.now() in processes on this machine (one clock)."""
    (watermark,) = servers.one("monolith", "SELECT coalesce(max(seq), 0) FROM seam_outbox")
    procs.start("lag-relay", "monolith", "relay_outbox")
    procs.start("lag-consumer", "catalog", "consume")
    procs.wait_line("lag-relay", "Ctrl-C stops")
    procs.wait_line("lag-consumer", "Ctrl-C stops")
    writers = [f"writer-{n}" for n in range(args.writers)]
    for n, name in enumerate(writers):
        procs.start(name, "monolith", "writer", "--rate", str(rate / args.writers),
                    "--seconds", str(args.seconds), "--seed", str(100 + n), role=True)  # fmt: skip
    written = [procs.result(name, timeout=args.seconds * 4 + 60) for name in writers]
    (made,) = servers.one(
        "monolith", "SELECT count(*) FROM seam_outbox WHERE seq > %s", (watermark,)
    )
    deadline = time.monotonic() + made / 20 + 60  # the consumer may be far behind
    while True:
        procs.check("lag-relay", "lag-consumer")
        (taken,) = servers.one(
            "catalog", "SELECT count(*) FROM seam_inbox WHERE received_at > %s::timestamptz",
            (servers.one("monolith", "SELECT min(created_at) FROM seam_outbox WHERE seq > %s", (watermark,))[0],),
        )  # fmt: skip
        if taken >= made:
            break
        if time.monotonic() > deadline:
            raise BenchError(
                f"lag run at {rate:g}/s: {made - taken} of {made} events not applied in time"
            )
        time.sleep(0.5)
    procs.stop("lag-relay")
    procs.stop("lag-consumer")
    rows = servers.sql(
        "monolith",
        "SELECT event_id, extract(epoch FROM created_at), extract(epoch FROM sent_at)"
        " FROM seam_outbox WHERE seq > %s",
        (watermark,),
    )
    received = dict(servers.sql(
        "catalog", "SELECT event_id, extract(epoch FROM received_at) FROM seam_inbox WHERE event_id = ANY(%s)",
        ([r[0] for r in rows],),
    ))  # fmt: skip
    if len(received) != len(rows):
        raise BenchError(
            f"lag run at {rate:g}/s: {len(rows) - len(received)} events never reached the inbox"
        )
    start = min(float(r[1]) for r in rows)
    end = max(float(r[1]) for r in rows)
    steady = [r for r in rows if float(r[1]) >= start + WARMUP_S]
    total = [float(received[e]) - float(c) for e, c, _ in steady]
    relayed = [float(s) - float(c) for _, c, s in steady]
    if min(total) < 0:
        raise BenchError(
            f"an event was received {-min(total):.3f} s before it was made: two clocks?"
        )
    return {
        "rate": rate, "events": len(rows), "counted": len(steady), "made_rate": len(rows) / (end - start),
        "late_max_s": max(w["late_max_s"] for w in written),
        "p50": _percentile(total, 0.5), "p99": _percentile(total, 0.99), "max": max(total),
        "relay_p50": _percentile(relayed, 0.5), "relay_p99": _percentile(relayed, 0.99),
    }  # fmt: skip


def run(servers: Servers, procs: Processes, args: argparse.Namespace) -> Figures:
    figures = Figures()
    manage(servers, "monolith", "migrate", "-v0")
    manage(servers, "catalog", "migrate", "-v0")
    prefill(servers, procs, args, figures)
    print(f"prefill: {figures.prefill}, waves {figures.waves}", flush=True)
    kinds = [(relays, tracing, False) for tracing in (True, False) for relays in (1, 2)]
    kinds += [(1, True, True), (1, False, True)]
    for turn in range(args.repeats):
        for relays, tracing, one_by_one in kinds[turn % len(kinds) :] + kinds[: turn % len(kinds)]:
            result = relay_run(servers, procs, relays, tracing, args.events / 50 + 60, one_by_one)
            figures.relay.append(result)
            print(f"relay, turn {turn + 1}: {result}", flush=True)
    procs.start("sendcost", "monolith", "sendcost", "--events", str(args.send_events), role=True,
                env=TRACING_OFF)  # fmt: skip
    figures.sendcost = procs.result("sendcost", timeout=900)
    print(f"send cost: {figures.sendcost}", flush=True)
    for batch in CONSUMER_BATCHES:
        relay_run(servers, procs, 1, True, deadline_s=args.events / 50 + 60)  # a queue in seq order
        servers.sql("catalog", "TRUNCATE seam_inbox, seam_aggregate_version, catalog_product,"
                    " catalog_category, catalog_brand, catalog_tag CASCADE")  # fmt: skip
        figures.consumer[batch] = consumer_run(servers, procs, args.consumer_seconds, batch)
        print(f"consumer, batch {batch}: {figures.consumer[batch]}", flush=True)
    for rate in args.rates:
        figures.lag.append(lag_run(servers, procs, rate, args))
        print(f"lag: {figures.lag[-1]}", flush=True)
    return figures


# -- the section in RESULTS.md ------------------------------------------------------------------


def render(figures: Figures, args: argparse.Namespace, command: str) -> str:
    def runs(relays: int, tracing: bool, one_by_one: bool = False) -> list[RelayRun]:
        return [r for r in figures.relay
                if (r.relays, r.tracing, r.one_by_one) == (relays, tracing, one_by_one)]  # fmt: skip

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    def rate(relays: int, tracing: bool, one_by_one: bool = False) -> float:
        return med([r.rate for r in runs(relays, tracing, one_by_one)])

    def verdict(ok: bool) -> str:
        return "**meets**" if ok else "**misses**"

    lines = [
        SECTION,
        "",
        f"`{command}` on {machine()}, {date.today().isoformat()}; PostgreSQL and {_rabbitmq_version()} "
        "on the same 2 shared cores, publisher confirms on (`confirm_publish`, "
        "extracted/seam/broker.py), DJANGO_DEBUG=0, spans to the default trace file "
        "(extracted/seam/tracing.py) unless the row says traces off (OTEL_SDK_DISABLED=true). Fresh "
        "databases and a RabbitMQ vhost of the bench's own. Targets (issue): at least 1,000 "
        "events/s relayed; lag p99 under 1 s at a steady 200 events/s.",
        "",
        f"**Relay throughput.** {figures.events:,} events in the monolith's outbox, written by "
        f"{figures.prefill['changes']:,} catalog changes through its ORM (prices, variants, tags, names "
        f"of {args.products} products; {PREFILL_TX} changes to a transaction, "
        f"{figures.prefill['changes'] / figures.prefill['seconds']:,.0f} changes/s), set aside and put "
        "back in one transaction while the relays (`manage.py relay_outbox`, batch 200) wait; "
        "events/s from that commit to the last `sent_at`, after which the queue must hold every "
        f"event once. Median of {args.repeats} runs a row (min-max), rows interleaved. Waves: a "
        "batch goes out the first event of each aggregate, then the second, and so on, each wave's "
        "confirms awaited together; here a batch of 200 took "
        f"{figures.waves['mean']:.1f} waves on average (at most {figures.waves['max']}). "
        "One event at a time is the relay before waves (f524bc0): Celery's send_task, then its "
        "confirm, per event (`Relay(send=transport.send)`). CPU: the relays' and RabbitMQ's, per event.",
        "",
        "| relays | sending | traces | events/s | min-max | relay CPU/event | RabbitMQ CPU/event | target 1,000/s |",
        "|---:|---|---|---:|---|---:|---:|---|",
    ]
    for one_by_one in (False, True):
        for tracing in (True, False):
            for relays in (1, 2):
                found = runs(relays, tracing, one_by_one)
                if not found:
                    continue
                rates = [r.rate for r in found]
                lines.append(
                    f"| {relays} | {'one event at a time' if one_by_one else 'waves'} | "
                    f"{'file' if tracing else 'off'} | {med(rates):,.0f} | "
                    f"{min(rates):,.0f}-{max(rates):,.0f} | {med([r.cpu_us for r in found]):,.0f} µs | "
                    f"{med([r.broker_cpu_us for r in found]):,.0f} µs | {verdict(med(rates) >= TARGET_RATE)} |"
                )
    traced, untraced = runs(1, True), runs(1, False)
    if traced and untraced and rate(1, True, True):
        lines += [
            "",
            f"Waves against one event at a time, one relay: {rate(1, True) / rate(1, True, True):.1f}x "
            f"with traces, {rate(1, False) / max(rate(1, False, True), 1):.1f}x without. Traces to "
            f"the file cost the relay {med([r.cpu_us for r in traced]) - med([r.cpu_us for r in untraced]):,.0f} "
            "µs of CPU an event (its span, Celery's publish span and their JSON lines), more than "
            "the rest of its work: with them one relay is CPU-bound.",
        ]
    cost = figures.sendcost.get("us_per_event", {})
    lines += [
        "",
        f"**What a confirm costs.** The transport alone, no database: {figures.sendcost.get('events', 0):,} "
        "real envelopes to a scratch queue, best of 3 rounds, traces off.",
        "",
        "| how | µs per event | events/s |",
        "|---|---:|---:|",
        *[f"| {name} | {us:,.0f} | {1e6 / us:,.0f} |" for name, us in cost.items()],
    ]
    base = cost.get("send(), one event at a time, no confirms")
    each = cost.get("send(), one event at a time, a confirm each")
    if base and each:
        lines += [
            "",
            f"Waiting for each confirm adds {each - base:,.0f} µs an event ({each / base:.1f}x). "
            "A wave of one (every event of one aggregate) still waits once an event, but builds "
            "the message without send_task's routing and repr of the whole envelope.",
        ]
    one, many = figures.consumer.get(1), figures.consumer.get(max(CONSUMER_BATCHES))
    lines += [
        "",
        f"**Consumer throughput.** One `manage.py consume --batch N` (catalog service) on a queue of "
        f"{many['queued']:,} events in order, from empty tables each time, for at most "
        f"{args.consumer_seconds:g} s; events/s from its first inbox row to its last. With N=1 each "
        "event is its own transaction (`inbox.handle`, as the Celery task applies them); with "
        f"N={max(CONSUMER_BATCHES)} the messages that have come in are applied together "
        "(`inbox.handle_batch`: bookkeeping once a batch, each product once at its newest version, "
        "the products of a batch read in 4 queries and only differing rows written, "
        "extracted/catalog/domain.py `apply_products`).",
        "",
        "| batch | taken in | applied | stale | dead letters | events/s | consumer CPU/event |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {batch} | {c['events']:,} | {c['applied']:,} | {c['events'] - c['applied']:,} | "
            f"{c['dead']} | {c['rate']:,.0f} | {c['cpu_ms']:.2f} ms |"
            for batch, c in sorted(figures.consumer.items())
        ],
        "",
        f"Batches against one by one: {many['rate'] / one['rate']:.1f}x the events/s, "
        f"{one['cpu_ms'] / many['cpu_ms']:.1f}x less CPU an event. (Stale: older versions of a "
        "product in the same batch as a newer one, recorded in the inbox and not applied.)",
        "",
        f"**End-to-end lag.** {args.writers} writer processes change the catalog through the monolith's "
        f"ORM on a fixed schedule for {args.seconds:g} s, each change its own transaction; one relay and "
        "one consumer run. Lag: from the outbox row's `created_at` (in the writer's transaction) to "
        "the inbox row's `received_at` (in the consumer's), both Django's `timezone.now()` in processes "
        f"on this machine: one clock. The first {WARMUP_S:g} s are left out. Relay part: `created_at` "
        "to `sent_at` (an idle relay wakes on the NOTIFY of a commit, and looks every 0.2 s anyway). Made: the changes/s the "
        "writers managed.",
        "",
        "| asked | made | events | lag p50 | lag p99 | lag max | relay part p50 | relay part p99 | target p99 < 1 s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for lag in figures.lag:
        lines.append(
            f"| {lag['rate']:g}/s | {lag['made_rate']:,.0f}/s | {lag['counted']:,} | {lag['p50']:.2f} s | "
            f"{lag['p99']:.2f} s | {lag['max']:.2f} s | {lag['relay_p50']:.2f} s | {lag['relay_p99']:.2f} s | "
            f"{verdict(lag['p99'] < TARGET_P99_S) if lag['rate'] >= 200 else '-'} |"
        )
    if figures.lag:
        worst = max(figures.lag, key=lambda lag: lag["p99"])
        consumer_part = [lag["p99"] - lag["relay_p99"] for lag in figures.lag]
        lines += [
            "",
            "What the lag is made of: the relay's part stays under "
            f"{max(lag['relay_p99'] for lag in figures.lag):.2f} s (p99) at every rate (a relay with "
            "nothing to send wakes on the NOTIFY of the writer's commit); the rest, the queue and the consumer, is "
            f"{max(consumer_part):.2f} s at most (p99 less the relay's p99). The worst p99 was "
            f"{worst['p99']:.2f} s at {worst['rate']:g}/s asked, with the consumer at "
            f"{many['rate']:,.0f} events/s alone and sharing the 2 cores with the writers, the relay, "
            "PostgreSQL and RabbitMQ.",
        ]
    return "\n".join(lines) + "\n"


def _rabbitmq_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["rabbitmqctl", "version"], capture_output=True, text=True, timeout=30
        )
        if done.returncode == 0 and done.stdout.strip():
            return f"RabbitMQ {done.stdout.strip()}"
    return "RabbitMQ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=20000, help="events pre-filled in the outbox")
    parser.add_argument("--products", type=int, default=PRODUCTS, help="products the changes touch")
    parser.add_argument("--seed", type=int, default=42, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="relay runs of each kind")
    parser.add_argument("--send-events", type=int, default=2000, help="events per send-cost run")
    parser.add_argument("--consumer-seconds", type=float, default=60, help="longest consumer run")
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[200.0, 50.0, 20.0],
                        help="changes/s of the lag runs")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=30, help="length of a lag run")
    parser.add_argument("--writers", type=int, default=4, help="writer processes in a lag run")
    parser.add_argument("--postgres-url", default=os.environ.get("FIGKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.role:
        print(json.dumps(ROLES[args.role](args)), flush=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    servers = Servers(args.postgres_url, Path(tempfile.mkdtemp(prefix="figkit-seam-bench-")))
    procs = Processes(servers)
    try:
        servers.create()
        figures = run(servers, procs, args)
    except BenchError as exc:
        raise SystemExit(f"seam bench: {exc}\n(logs in {servers.tmp})") from None
    finally:
        procs.stop_all()
        servers.drop()
    text = render(figures, args, " ".join([".venv/bin/python bench/seam_bench.py", *sys.argv[1:]]))
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
