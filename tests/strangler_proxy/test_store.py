"""The durable route table on SQLite and on PostgreSQL: versions, audit, locking, bad input."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from strangler_proxy import route_changes
from strangler_proxy.errors import ConfigError, RouteConflict, RouteError, RouteNotFound
from strangler_proxy.routing import Route
from strangler_proxy.store import open_store

UPSTREAMS = ["monolith", "catalog", "orders"]


def add(store, name="catalog", match="/api/catalog/*", who="ops"):
    with store.change(who=who, why="add it", action="add") as tx:
        route_changes.add(tx, Route(name, match, "catalog"), UPSTREAMS)
    return tx.version


def test_each_change_is_one_version_with_who_when_and_why(store_url):
    store = open_store(store_url)
    assert store.version() == 0
    assert add(store) == 1
    with store.change(who="alice", why="cut over", action="set-mode") as tx:
        route_changes.set_mode(tx, "catalog", "service")
    assert store.version() == 2
    snap = store.snapshot()
    assert snap.version == 2 and snap.routes[0].mode == "service"
    last, first = store.history()
    assert (last.version, last.who, last.why, last.action) == (2, "alice", "cut over", "set-mode")
    assert last.before["policy"] == {"mode": "monolith"}
    assert last.after["policy"] == {"mode": "service"}
    assert first.before is None and first.after["match"] == "/api/catalog/*"
    assert first.at < last.at or first.at == last.at


def test_rollback_all_is_one_version_touching_every_moved_route(store_url):
    store = open_store(store_url)
    for i in range(3):
        add(store, f"r{i}", f"/r{i}/*")
    with store.change(who="ops", why="go", action="set-mode") as tx:
        for i in range(3):
            route_changes.set_mode(tx, f"r{i}", "service")
    with store.change(who="ops", why="pager", action="rollback") as tx:
        moved = route_changes.rollback(tx, None)
    assert len(moved) == 3 and tx.version == 5
    assert {r.mode for r in store.snapshot().routes} == {"monolith"}
    assert {c.route for c in store.history() if c.version == 5} == {"r0", "r1", "r2"}


def test_a_failed_change_leaves_the_table_and_version_as_they_were(store_url):
    store = open_store(store_url)
    add(store)
    with pytest.raises(RouteConflict), store.change(who="ops", why="dup", action="add") as tx:
        route_changes.add(tx, Route("catalog", "/other/*", "catalog"), UPSTREAMS)
    with (
        pytest.raises(RouteError, match="unknown upstream"),
        store.change(who="ops", why="x", action="add") as tx,
    ):
        route_changes.add(tx, Route("x", "/x/*", "billing"), UPSTREAMS)
    with pytest.raises(RouteNotFound), store.change(who="ops", why="x", action="set-mode") as tx:
        route_changes.set_mode(tx, "nope", "service")
    assert store.version() == 1 and len(store.history()) == 1


def test_a_change_without_a_reason_is_refused(store_url):
    store = open_store(store_url)
    with (
        pytest.raises(RouteError, match="say why"),
        store.change(who="ops", why="  ", action="add"),
    ):
        pass


def test_a_change_that_changes_nothing_makes_no_version(store_url):
    store = open_store(store_url)
    add(store)
    with store.change(who="ops", why="again", action="rollback") as tx:
        route_changes.rollback(tx, "catalog")  # it is in mode monolith already
    assert store.version() == 1


def test_concurrent_writers_get_distinct_versions(store_url):
    stores = [open_store(store_url) for _ in range(4)]
    errors = []

    def write(store, n):
        try:
            for i in range(10):
                add(store, f"w{n}-{i}", f"/w{n}/{i}/*")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stores[0].version() == 40
    assert sorted(c.version for c in stores[0].history(limit=100)) == list(range(1, 41))


def test_import_is_all_or_nothing(store_url):
    store = open_store(store_url)
    add(store)
    good = {"name": "orders", "match": "/api/orders/*", "target": "orders"}
    bad = {"name": "bad", "match": "no-slash", "target": "orders"}
    with (
        pytest.raises(RouteError, match="route #2"),
        store.change(who="ops", why="imp", action="import") as tx,
    ):
        route_changes.import_routes(tx, [good, bad], UPSTREAMS)
    assert [r.name for r in store.snapshot().routes] == ["catalog"]
    with store.change(who="ops", why="imp", action="import") as tx:
        route_changes.import_routes(tx, [good], UPSTREAMS, replace_all=True)
    assert [r.name for r in store.snapshot().routes] == ["orders"]


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///", "redis://127.0.0.1"])
def test_a_store_url_it_cannot_use_is_a_config_error(url):
    with pytest.raises(ConfigError):
        open_store(url)


def test_expect_version_guards_against_lost_updates(store_url):
    store = open_store(store_url)
    read_at = add(store)
    add(store, "orders", "/api/orders/*")
    stale = store.change(who="script", why="x", action="rollback", expect_version=read_at)
    with pytest.raises(RouteConflict, match="changed since you read it"), stale as tx:
        route_changes.rollback(tx, None)
    with store.change(who="script", why="x", action="remove", expect_version=store.version()) as tx:
        route_changes.remove(tx, "orders")
    assert [r.name for r in store.snapshot().routes] == ["catalog"]


def test_rows_written_before_policies_still_load_and_their_history_reads_as_policies(tmp_path):
    url = f"sqlite:///{tmp_path}/routes.db"
    store = open_store(url)
    old = {"name": "all", "match": "/a/*", "methods": ["GET"], "header": None,
           "target": "catalog", "mode": "service"}  # fmt: skip
    with sqlite3.connect(tmp_path / "routes.db") as db:  # as an older figkit wrote them
        db.execute("UPDATE figkit_route_table SET version = 1")
        db.execute("INSERT INTO figkit_routes VALUES ('all', ?)", (json.dumps(old),))
        db.execute(
            "INSERT INTO figkit_route_changes VALUES (1, 'all', '2026-01-01T00:00:00', 'ops',"
            " 'old', 'add', NULL, ?)",
            (json.dumps(old),),
        )
    (route,) = store.snapshot().routes
    assert route.name == "all" and route.mode == "service"  # a name reserved since then
    assert store.history()[0].after["policy"] == {"mode": "service"}
    with store.change(who="ops", why="rename it", action="remove") as tx:
        route_changes.remove(tx, "all")
    assert store.snapshot().routes == ()


def test_a_new_route_with_a_reserved_name_is_refused_by_add(store_url):
    store = open_store(store_url)
    with (
        pytest.raises(RouteError, match="reserved"),
        store.change(who="ops", why="x", action="add") as tx,
    ):
        route_changes.add(tx, Route("all", "/all/*", "catalog"), UPSTREAMS)
    assert store.version() == 0


def test_closing_the_store_waits_for_a_query_in_another_thread(store_url):
    # A worker stops while its poll still runs in an executor thread: closing the
    # connection under that query crashed the process (sqlite3); it must wait instead.
    errors: list[BaseException] = []
    for _ in range(20):
        store = open_store(store_url)
        started = threading.Event()

        def poll(store=store, started=started) -> None:
            started.set()
            try:
                while True:
                    store.version()
            except Exception as exc:  # noqa: BLE001 - what a closed store raises
                errors.append(exc)

        thread = threading.Thread(target=poll)
        thread.start()
        started.wait()
        store.close()
        thread.join(5)
        assert not thread.is_alive()
    assert len(errors) == 20  # each poll ended with an error, none with a crash
