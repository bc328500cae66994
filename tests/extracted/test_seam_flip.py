"""Backfill and the ownership flip with real processes on PostgreSQL + RabbitMQ, under steady
write traffic through the strangler proxy: a backfill under writes ends with both sides equal;
a flip to the service and back loses no write, and a client waits at most the bounded pause."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest

from tests import services
from tests.extracted.stack import (
    TOKEN,
    Stack,
    drop_postgres_database,
    postgres_database,
)
from tests.extracted.stopping import stop_together

ROUTE = {
    "name": "catalog-products",
    "match": "/api/products/*",
    "target": "catalog",
    "why": "the catalog's API",
}
MAX_CLIENT_WAIT_S = 2.0  # the flip's target pause, as a client that honours Retry-After sees it


@dataclass
class Writer:
    """PATCHes product names through the proxy, retrying a 503 after its Retry-After, and keeps
    the last name each product was acknowledged with."""

    proxy_url: str
    slugs: list[str]
    acknowledged: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    writes: int = 0
    retried: int = 0
    by_upstream: Counter = field(default_factory=Counter)  # acknowledged writes per upstream
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.proxy_url, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                slug = self.slugs[n % len(self.slugs)]
                name = f"Renamed {n}"
                started = time.monotonic()
                while True:
                    response = client.patch(f"/api/products/{slug}/", json={"name": name})
                    if response.status_code != 503:
                        break
                    self.retried += 1
                    if time.monotonic() - started > 10:
                        break
                    time.sleep(min(float(response.headers.get("retry-after", "1")), 1.0) / 4)
                self.waits.append(time.monotonic() - started)
                if response.status_code == 200:
                    self.acknowledged[slug] = name
                    self.by_upstream[response.headers.get("x-figkit-upstream")] += 1
                    self.writes += 1
                else:
                    self.errors.append(
                        f"{response.status_code} {response.headers.get('x-figkit-upstream')}: {response.text[:200]}"
                    )
                n += 1
                time.sleep(0.01)

    def wait_for(self, writes: int, upstream: str | None = None, deadline_s: float = 30) -> None:
        """Until WRITES more writes are acknowledged (by UPSTREAM, if given)."""
        count = lambda: self.by_upstream[upstream] if upstream else self.writes  # noqa: E731
        goal, deadline = count() + writes, time.monotonic() + deadline_s
        while count() < goal:
            assert self.thread.is_alive() and time.monotonic() < deadline, (
                f"{count()} of {goal} writes acknowledged{f' by {upstream}' if upstream else ''} "
                f"in {deadline_s:.0f} s; errors: {self.errors[:5]}"
            )
            time.sleep(0.02)

    def __enter__(self) -> Writer:
        self.stop.clear()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The monolith's database migrated and seeded once for the module: each test starts on a
    copy of it, as it would on a database migrated and seeded anew, some 6 s sooner."""
    server = services.require(services.POSTGRES)
    url = postgres_database(server, "figkit_flip_seeded")
    try:
        maker = Stack(tmp_path_factory.mktemp("seeded"), monolith_db=url,
                      broker_url=services.require(services.RABBITMQ))  # fmt: skip
        maker.manage("monolith", "migrate", "-v0")
        maker.manage("monolith", "seed", "--size", "small")
        yield url
    finally:
        drop_postgres_database(url)


def copy_of(url: str, prefix: str) -> str:
    """A new database made from URL's as its template; its URL."""
    base, template = url.rsplit("/", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{base}/{name}"


@pytest.fixture
def stack(tmp_path, rabbitmq_url, seeded):
    server = services.require(services.POSTGRES)
    stack = Stack(tmp_path, broker_url=rabbitmq_url,
                  monolith_db=copy_of(seeded, "figkit_flip_mono"),
                  catalog_db=postgres_database(server, "figkit_flip_catalog"))  # fmt: skip
    try:
        # The three servers start side by side (the service migrates its database as it starts).
        with ThreadPoolExecutor(3) as pool:
            started = [pool.submit(stack.serve_catalog), pool.submit(stack.serve_monolith),
                       pool.submit(stack.serve_proxy, [ROUTE])]  # fmt: skip
            for done in started:
                done.result()
        for side, command in (("monolith", "relay_outbox"), ("catalog", "consume"),
                              ("catalog", "relay_outbox"), ("monolith", "consume")):  # fmt: skip
            stack.start(f"{side}-{command}", side, command)
        yield stack
    finally:
        stop_together(stack)
        stack.delete_queues()
        for url in (stack.monolith_db, stack.catalog_db):
            drop_postgres_database(url)


def slugs(stack: Stack, n: int = 12) -> list[str]:
    products = httpx.get(
        f"{stack.monolith_url}/api/products/", params={"limit": n}, timeout=10
    ).json()["results"]
    return [p["slug"] for p in products]


def caught_up(stack: Stack, deadline_s: float = 60) -> None:
    """Both outboxes sent, and each side's inbox holds every event the other sent."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for name in list(stack.running):
            stack.alive(name)
        mono_out = stack.sql(
            "monolith", "SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FROM seam_outbox"
        )[0]
        cat_out = stack.sql(
            "catalog", "SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FROM seam_outbox"
        )[0]
        # Events that reached the service before the backfill brought their category are dead
        # letters, superseded by the snapshot: taken in all the same.
        taken = "SELECT (SELECT count(*) FROM seam_inbox) + (SELECT count(*) FROM seam_dead_letter)"
        [(cat_in,)] = stack.sql("catalog", taken)
        [(mono_in,)] = stack.sql("monolith", taken)
        if mono_out[0] == cat_out[0] == 0 and cat_in >= mono_out[1] and mono_in >= cat_out[1]:
            return
        time.sleep(0.1)
    pytest.fail(
        f"not caught up: monolith outbox {mono_out}, catalog inbox {cat_in}; catalog outbox {cat_out}, monolith inbox {mono_in}"
    )


def reconcile(stack: Stack) -> dict:
    result = stack.manage("monolith", "reconcile", "catalog", "--json", check=False)
    return json.loads(result.stdout)


def names_on_both_sides(stack: Stack, slugs_: list[str]) -> tuple[dict, dict]:
    monolith, service = {}, {}
    for slug in slugs_:
        monolith[slug] = httpx.get(f"{stack.monolith_url}/api/products/{slug}/", timeout=10).json()[
            "name"
        ]
        service[slug] = httpx.get(f"{stack.catalog_url}/api/products/{slug}/", timeout=10).json()[
            "name"
        ]
    return monolith, service


def test_a_backfill_under_writes_leaves_no_difference(stack):
    chosen = slugs(stack)
    with Writer(stack.proxy_url, chosen) as writer:
        writer.wait_for(10)  # writing before the backfill starts,
        out = stack.manage("monolith", "backfill", "catalog", "--wait", "60").stdout
        writer.wait_for(11)  # and after it ends
    assert writer.errors == [] and writer.writes > 20, (writer.errors[:5], writer.writes)
    assert re.search(r"at outbox watermark \d+: \d+ snapshot event", out), out
    caught_up(stack)
    report = reconcile(stack)
    assert report["differences"] == [] and report["checked"] >= 150, report
    [(unresolved,)] = stack.sql(
        "catalog", "SELECT count(*) FROM seam_dead_letter WHERE resolved_at IS NULL"
    )
    assert unresolved == 0, "the snapshot superseded every event that came before its category"
    monolith, service = names_on_both_sides(stack, chosen)
    assert monolith == service == {s: writer.acknowledged.get(s, monolith[s]) for s in chosen}


def flip(stack: Stack, to: str) -> float:
    out = stack.manage("monolith", "flip_ownership", "catalog", "--to", to, "--reason", "test",
                       "--proxy-admin", stack.admin_url, "--proxy-route", ROUTE["name"]).stdout  # fmt: skip
    found = re.search(r"writes were held (\d+) ms", out)
    assert found, out
    assert float(found.group(1)) < 2000, f"the flip's pause is over its 2 s target: {out}"
    return float(found.group(1))


def test_the_flip_both_ways_under_writes_loses_no_write_and_pauses_briefly(stack, monkeypatch):
    monkeypatch.setenv("FIGKIT_ADMIN_TOKEN", TOKEN)
    stack.manage("monolith", "backfill", "catalog", "--wait", "60")
    caught_up(stack)
    chosen = slugs(stack)
    with Writer(stack.proxy_url, chosen) as writer:
        writer.wait_for(10, "monolith")
        to_service = flip(stack, "service")
        writer.wait_for(10, "catalog")  # the service takes the writes,
        served_by = httpx.get(f"{stack.proxy_url}/api/products/{chosen[0]}/", timeout=10).headers[
            "x-figkit-upstream"
        ]
        to_monolith = flip(stack, "monolith")
        writer.wait_for(10, "monolith")  # and the monolith again after the flip back
        writer.wait_for(51 - writer.writes)
    assert served_by == "catalog", (
        "after the flip the proxy sends the catalog's routes to the service"
    )
    assert writer.errors == [], writer.errors[:5]
    assert writer.writes > 50
    assert to_service < 2000 and to_monolith < 2000, (to_service, to_monolith)
    assert max(writer.waits) < MAX_CLIENT_WAIT_S + 0.5, sorted(writer.waits)[-5:]
    caught_up(stack)
    report = reconcile(stack)
    assert report["differences"] == [], report["differences"][:5]
    monolith, service = names_on_both_sides(stack, chosen)
    expected = {s: writer.acknowledged.get(s, monolith[s]) for s in chosen}
    assert monolith == expected and service == expected, "every acknowledged write is on both sides"
    audit = stack.sql(
        "monolith", "SELECT to_owner, outcome, pause_ms FROM seam_ownership_change ORDER BY id"
    )
    assert [(a[0], a[1]) for a in audit] == [("catalog", "flipped"), ("monolith", "flipped")]
