"""The seam under faults, with real processes on PostgreSQL and RabbitMQ: the monolith writes its
catalog, its relay sends the outbox, the catalog service's consumer applies it; the relay and the
consumer are killed with SIGKILL mid-stream, the broker restarts, and at the end both sides agree
row by row, no event is lost and none is applied twice.

The faults are timed by what the processes are doing, not by the clock: a process is killed once
it has done part of the stream since it started and has more of it in hand, and each kill is
checked afterwards to have left work undone. The writers keep writing until the faults are over,
so the volume follows the machine's speed. FIGKIT_SOAK=1 runs the long version (10,000 changes
or more, twice the kills)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psutil
import psycopg
import pytest

from tests import services
from tests.extracted.stack import Stack, drop_postgres_database, postgres_database
from tests.extracted.stopping import stop_together

WRITES = ["tests/extracted/catalog_writes.py"]
SOAK = os.environ.get("FIGKIT_SOAK", "") == "1"
# Kills of the relay and the consumer, taken in turn, and the fewest changes the writers make.
KILLS, CHANGES = (12, 10_000) if SOAK else (6, 1_000)
COMMANDS = {"relay": ("monolith", "relay_outbox"), "consumer": ("catalog", "consume")}


@pytest.fixture
def stack(tmp_path, rabbitmq_url):
    server = services.require(services.POSTGRES)
    stack = Stack(tmp_path, broker_url=rabbitmq_url,
                  monolith_db=postgres_database(server, "figkit_seam_mono"),
                  catalog_db=postgres_database(server, "figkit_seam_catalog"))  # fmt: skip
    try:
        with ThreadPoolExecutor(2) as pool:  # two processes, one per side: twice as fast
            for done in [pool.submit(stack.manage, side, "migrate", "-v0")
                         for side in ("monolith", "catalog")]:  # fmt: skip
                done.result()
        yield stack
    finally:
        stop_together(stack)
        stack.delete_queues()
        for url in (stack.monolith_db, stack.catalog_db):
            drop_postgres_database(url)


@dataclass
class Stream:
    """Where the stream is, read from both databases over one connection each."""

    stack: Stack

    def __post_init__(self) -> None:
        self.monolith = psycopg.connect(self.stack.monolith_db, autocommit=True)
        self.catalog = psycopg.connect(self.stack.catalog_db, autocommit=True)

    def close(self) -> None:
        self.monolith.close()
        self.catalog.close()

    def sent(self) -> tuple[int, int, int]:
        """Events marked sent, events written, and the newest event's seq."""
        [row] = self.monolith.execute(
            "SELECT count(sent_at), count(*), coalesce(max(seq), 0) FROM seam_outbox"
        ).fetchall()
        return row

    def taken(self) -> int:
        [(taken,)] = self.catalog.execute("SELECT count(*) FROM seam_inbox").fetchall()
        return taken

    def progress(self, name: str) -> int:
        """How far the relay (events sent) or the consumer (events taken in) has got."""
        return self.sent()[0] if name == "relay" else self.taken()

    def in_hand(self, name: str) -> bool:
        """NAME has part of the stream still to do: events unsent, or sent and not taken in."""
        sent, total, _ = self.sent()
        return sent < total if name == "relay" else self.taken() < sent

    def left_after(self, name: str, before: tuple[int, int, int]) -> int:
        """With NAME dead, how much of what it had in hand at BEFORE (sent()) is still undone."""
        if name == "relay":
            [(unsent,)] = self.monolith.execute(
                "SELECT count(*) FROM seam_outbox WHERE sent_at IS NULL AND seq <= %s", [before[2]]
            ).fetchall()
            return unsent
        return before[0] - self.taken()

    def wait_sessions_gone(self, ports: set[int], deadline_s: float = 30) -> None:
        """Until the database sessions of a killed process are over (a COMMIT it sent before it
        died may still be landing)."""
        deadline = time.monotonic() + deadline_s
        for conn in (self.monolith, self.catalog):
            while conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s)", [list(ports)]
            ).fetchall() != [(0,)]:
                assert time.monotonic() < deadline, (
                    f"sessions on ports {ports} outlived their process"
                )
                time.sleep(0.02)


def database_ports(proc: subprocess.Popen) -> set[int]:
    """The local ports of PROC's connections to PostgreSQL."""
    server = services.POSTGRES.address[1]
    return {c.laddr.port for c in psutil.Process(proc.pid).net_connections("tcp")
            if c.raddr and c.raddr.port == server}  # fmt: skip


def wait_until_caught_up(stack: Stack, stall_s: float = 60, cap_s: float = 600) -> None:
    """Until every event is sent and taken in. Slow is not lost: it fails when nothing moves for
    `stall_s` (an event lost would stall it for good), not when a busy machine is slow."""
    started = last_move = time.monotonic()
    seen = (-1, -1)
    stream = Stream(stack)
    try:
        while time.monotonic() - last_move < stall_s and time.monotonic() - started < cap_s:
            for name in ("relay", "consumer"):
                stack.alive(name)
            sent, total, _ = stream.sent()
            unsent, taken = total - sent, stream.taken()
            if unsent == 0 and taken >= total:
                return
            if (unsent, taken) != seen:
                seen, last_move = (unsent, taken), time.monotonic()
            time.sleep(0.1)
    finally:
        stream.close()
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


def kill_mid_stream(stack: Stack, stream: Stream, name: str, since: int) -> int:
    """Wait until NAME has done part of the stream since it started (its progress was SINCE)
    and has more in hand, kill it with SIGKILL and start it again. How much of what it had in
    hand it left undone: 0 when the kill came too late to land mid-stream."""
    deadline = time.monotonic() + 120
    while not (stream.progress(name) > since and stream.in_hand(name)):
        stack.alive(name)
        assert time.monotonic() < deadline, f"{name} made no progress for 120 s:\n{stack.log(name)}"
        time.sleep(0.01)
    ports = database_ports(stack.running[name])
    before = stream.sent()
    stack.kill(name, signal.SIGKILL)
    stream.wait_sessions_gone(ports)
    left = stream.left_after(name, before)
    stack.start(name, *COMMANDS[name])
    return left


@pytest.mark.timeout(900)  # FIGKIT_SOAK=1: 10,000 changes, minutes on a busy 2-core machine
def test_relay_and_consumer_killed_mid_stream_lose_nothing_and_apply_nothing_twice(stack, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        serving = pool.submit(stack.serve_catalog)  # the reconcile at the end asks it
        # Two writers on the same 60 products, concurrent on the same aggregates, writing
        # until the kills are over.
        stack.start("setup", "monolith", argv=[*WRITES, "0", "--products", "60"]).wait(timeout=120)
        done = tmp_path / "kills-done"
        argv = [*WRITES, str(CHANGES // 2), "--products", "60", "--until", str(done)]
        writers = [
            stack.start(f"writer-{n}", "monolith", argv=[*argv, "--seed", str(n)]) for n in (1, 2)
        ]
        stack.start("relay", "monolith", "relay_outbox")
        stack.start("consumer", "catalog", "consume")
        serving.result()
    stream = Stream(stack)
    try:
        since = {name: 0 for name in COMMANDS}
        landed = {name: 0 for name in COMMANDS}
        kills: list[tuple[str, int]] = []  # who, and how much of what it had in hand it left
        while min(landed.values()) < KILLS // 2:
            assert len(kills) < 3 * KILLS, f"too few kills landed mid-stream: {kills}"
            name = "consumer" if kills and kills[-1][0] == "relay" else "relay"
            if landed[name] >= KILLS // 2:
                name = "relay" if name == "consumer" else "consumer"
            kills.append((name, kill_mid_stream(stack, stream, name, since[name])))
            landed[name] += kills[-1][1] > 0
            since[name] = stream.progress(name)
            for n, writer in enumerate(writers, 1):
                assert writer.poll() is None, (
                    f"a writer stopped before the kills were over:\n{stack.log(f'writer-{n}')}"
                )
        done.touch()
        for n, writer in enumerate(writers, 1):
            assert writer.wait(timeout=120) == 0, stack.log(f"writer-{n}")
        _, events, _ = stream.sent()
        assert events >= CHANGES, f"{events} events, {CHANGES} wanted"
    finally:
        stream.close()
    wait_until_caught_up(stack)
    assert_both_sides_agree(stack)


OUTAGE_S = 2.0  # how long the broker stays down


def wait_for(what: str, condition, stack: Stack, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        for name in ("relay", "consumer", "writer"):
            stack.alive(name)
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {deadline_s:.0f} s\nrelay: {stack.log('relay')}\n"
                        f"consumer: {stack.log('consumer')}")  # fmt: skip
        time.sleep(0.05)


def rabbitmqctl(command: str) -> None:
    done = subprocess.run(["rabbitmqctl", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_broker_restart_mid_stream_loses_no_event(stack, tmp_path):
    done = tmp_path / "restart-done"
    with ThreadPoolExecutor(1) as pool:
        serving = pool.submit(stack.serve_catalog)  # the reconcile at the end asks it
        writer = stack.start("writer", "monolith", argv=[
            *WRITES, str(3000 if SOAK else 300), "--products", "30", "--until", str(done)
        ])  # fmt: skip
        stack.start("relay", "monolith", "relay_outbox")
        stack.start("consumer", "catalog", "consume")
        serving.result()
    stream = Stream(stack)
    try:
        wait_for("event through the seam", lambda: stream.taken() >= 50, stack)
        with services.rabbitmq_in_use(alone=True):  # no other test session's broker test now
            rabbitmqctl("stop_app")
            stopped = time.monotonic()
            # Both notice while the monolith goes on writing: the relay has events it cannot
            # send, and tries again for the rest of the outage.
            noticed = lambda: all("retrying" in stack.log(n) for n in ("relay", "consumer"))  # noqa: E731
            wait_for("notice of the broker's stop by both the relay and the consumer", noticed, stack)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
            rabbitmqctl("start_app")
        back, _, _ = stream.sent()
        wait_for("event sent and taken in after the restart",
                 lambda: stream.sent()[0] > back and stream.taken() > back, stack)  # fmt: skip
        done.touch()
        assert writer.wait(timeout=120) == 0, stack.log("writer")
        assert stream.sent()[1] >= (3000 if SOAK else 300)
    finally:
        stream.close()
    wait_until_caught_up(stack)
    assert_both_sides_agree(stack)
