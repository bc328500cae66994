"""The seam under faults, with real processes on PostgreSQL and RabbitMQ: the monolith writes its
catalog, its relay sends the outbox, the catalog service's consumer applies it; the relay and the
consumer are killed with SIGKILL mid-stream, the broker restarts, and at the end both sides agree
row by row, no event is lost and none is applied twice."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests import services
from tests.extracted.stack import Stack, drop_postgres_database, postgres_database

WRITES = ["tests/extracted/catalog_writes.py"]


@pytest.fixture
def stack(tmp_path, rabbitmq_url):
    server = services.require(services.POSTGRES)
    stack = Stack(tmp_path, broker_url=rabbitmq_url,
                  monolith_db=postgres_database(server, "figkit_seam_mono"),
                  catalog_db=postgres_database(server, "figkit_seam_catalog"))  # fmt: skip
    try:
        stack.manage("monolith", "migrate", "-v0")
        stack.manage("catalog", "migrate", "-v0")
        yield stack
    finally:
        stack.stop_all()
        stack.delete_queues()
        for url in (stack.monolith_db, stack.catalog_db):
            drop_postgres_database(url)


def wait_until_caught_up(stack: Stack, stall_s: float = 60, cap_s: float = 600) -> None:
    """Until every event is sent and taken in. Slow is not lost: it fails when nothing moves for
    `stall_s` (an event lost would stall it for good), not when a busy machine is slow."""
    started = last_move = time.monotonic()
    seen = (-1, -1)
    while time.monotonic() - last_move < stall_s and time.monotonic() - started < cap_s:
        for name in ("relay", "consumer"):
            stack.alive(name)
        [(unsent, total)] = stack.sql(
            "monolith", "SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FROM seam_outbox"
        )
        [(taken,)] = stack.sql("catalog", "SELECT count(*) FROM seam_inbox")
        if unsent == 0 and taken >= total:
            return
        if (unsent, taken) != seen:
            seen, last_move = (unsent, taken), time.monotonic()
        time.sleep(0.5)
    pytest.fail(f"stalled: {unsent} unsent of {total}, {taken} taken in, nothing moved for {stall_s:.0f} s\n"
                f"relay: {stack.log('relay')}\nconsumer: {stack.log('consumer')}")  # fmt: skip


def assert_both_sides_agree(stack: Stack) -> dict:
    result = stack.manage("monolith", "reconcile", "catalog", "--json", check=False)
    report = json.loads(result.stdout)
    assert report["differences"] == [], report["differences"][:5]
    assert report["checked"] > 0
    sent = {row[0] for row in stack.sql("monolith", "SELECT event_id FROM seam_outbox")}
    taken = stack.sql("catalog", "SELECT event_id, outcome FROM seam_inbox")
    assert {row[0] for row in taken} == sent, (
        "every event the monolith wrote reached the service, and no other"
    )
    assert len(taken) == len(sent), "each event is in the inbox once"
    owner = dict(
        (a, v)
        for a, v in stack.sql(
            "monolith",
            "SELECT aggregate_type || ':' || aggregate_id, version FROM seam_aggregate_version",
        )
    )
    follower = dict(
        (a, v)
        for a, v in stack.sql(
            "catalog",
            "SELECT aggregate_type || ':' || aggregate_id, version FROM seam_aggregate_version",
        )
    )
    assert follower == owner, "the service is at the monolith's version of every aggregate"
    return report


@pytest.mark.timeout(900)  # 10,000 changes: minutes on a busy 2-core machine
def test_relay_and_consumer_killed_mid_stream_lose_nothing_and_apply_nothing_twice(stack):
    stack.serve_catalog()
    # Two writers on the same 60 products: 10,000 changes, concurrent on the same aggregates.
    stack.start("setup", "monolith", argv=[*WRITES, "0", "--products", "60"]).wait(timeout=120)
    writers = [
        stack.start(
            f"writer-{n}", "monolith", argv=[*WRITES, "5000", "--products", "60", "--seed", str(n)]
        )
        for n in (1, 2)
    ]
    stack.start("relay", "monolith", "relay_outbox")
    stack.start("consumer", "catalog", "consume")
    kills = 0
    started = time.monotonic()
    while any(w.poll() is None for w in writers) and time.monotonic() - started < 600:
        time.sleep(2.5)
        victim = ("relay", "consumer")[kills % 2]
        if kills < 6:
            stack.kill(victim, signal.SIGKILL)
            side = "monolith" if victim == "relay" else "catalog"
            stack.start(victim, side, "relay_outbox" if victim == "relay" else "consume")
            kills += 1
    for n, writer in enumerate(writers, 1):
        assert writer.wait(timeout=60) == 0, stack.log(f"writer-{n}")
    assert kills >= 4, "the writes ended before the relay and the consumer were each killed twice"
    [(events,)] = stack.sql("monolith", "SELECT count(*) FROM seam_outbox")
    assert events >= 10000
    wait_until_caught_up(stack)
    assert_both_sides_agree(stack)


def test_a_broker_restart_mid_stream_loses_no_event(stack):
    stack.serve_catalog()
    writer = stack.start("writer", "monolith", argv=[*WRITES, "3000", "--products", "30"])
    stack.start("relay", "monolith", "relay_outbox")
    stack.start("consumer", "catalog", "consume")
    time.sleep(3)
    restart = subprocess.run("rabbitmqctl stop_app && sleep 2 && rabbitmqctl start_app", shell=True,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert restart.returncode == 0, restart.stderr
    assert writer.wait(timeout=300) == 0, stack.log("writer")
    wait_until_caught_up(stack)
    assert_both_sides_agree(stack)
    assert "retrying" in stack.log("relay") + stack.log("consumer"), (
        "the broker restart was not noticed"
    )
