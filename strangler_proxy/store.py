"""The durable route table: SQLite by default, PostgreSQL when several replicas share it.

Every change is one transaction that bumps the table's version and writes one audit row
per route it touched (who, when, why, before, after). Readers poll `version()`, a
one-row read, and reload the table only when it moved.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strangler_proxy.errors import ConfigError, RouteConflict, RouteError, StoreError
from strangler_proxy.routing import Route

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS figkit_route_table (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS figkit_routes (name TEXT PRIMARY KEY, spec TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS figkit_route_changes ("
    " version BIGINT NOT NULL, route TEXT NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL,"
    " why TEXT NOT NULL, action TEXT NOT NULL, before TEXT, after TEXT,"
    " PRIMARY KEY (version, route))",
    # What each route's traffic came to, per second, summed over workers (gates read it).
    "CREATE TABLE IF NOT EXISTS figkit_route_figures ("
    " route TEXT NOT NULL, second BIGINT NOT NULL, compared BIGINT NOT NULL DEFAULT 0,"
    " mismatched BIGINT NOT NULL DEFAULT 0, shadow_errors BIGINT NOT NULL DEFAULT 0,"
    " dropped BIGINT NOT NULL DEFAULT 0, skipped BIGINT NOT NULL DEFAULT 0,"
    " requests BIGINT NOT NULL DEFAULT 0, errors BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (route, second))",
    # Shadow totals since the route last entered shadow mode (or `routes diff --reset`).
    "CREATE TABLE IF NOT EXISTS figkit_shadow_totals ("
    " route TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL, compared BIGINT NOT NULL,"
    " mismatched BIGINT NOT NULL, shadow_errors BIGINT NOT NULL, dropped BIGINT NOT NULL,"
    " skipped BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS figkit_shadow_noise ("
    " route TEXT NOT NULL, path TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (route, path))",
    "CREATE TABLE IF NOT EXISTS figkit_shadow_samples ("
    " route TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, request_id TEXT NOT NULL,"
    " method TEXT NOT NULL, target TEXT NOT NULL, path TEXT NOT NULL, sample TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS figkit_shadow_samples_route ON figkit_shadow_samples (route, at)",
)
# The per-second counters a worker adds to figkit_route_figures (and shadow totals).
FIGURES = ("compared", "mismatched", "shadow_errors", "dropped", "skipped", "requests", "errors")
SHADOW_FIGURES = FIGURES[:5]


@dataclass(frozen=True)
class Snapshot:
    version: int
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class ChangeRecord:
    """One audit row: a route as it was before and after one versioned change."""

    version: int
    route: str
    at: str
    who: str
    why: str
    action: str
    before: dict | None
    after: dict | None

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "route": self.route,
            "at": self.at,
            "who": self.who,
            "why": self.why,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class Transaction:
    """The table as read under the store's write lock, and the edits to make to it."""

    routes: dict[str, Route]
    version: int
    edits: dict[str, Route | None] = field(default_factory=dict)

    def put(self, route: Route) -> None:
        self.edits[route.name] = route
        self.routes[route.name] = route

    def delete(self, name: str) -> None:
        self.edits[name] = None
        self.routes.pop(name, None)


class RouteStore:
    """Shared logic of both backends; subclasses supply a DB-API connection and the lock."""

    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()

    # --- reads -------------------------------------------------------------------------
    def version(self) -> int:
        with self._lock:
            row = self._query("SELECT version FROM figkit_route_table WHERE id = 1")
        return int(row[0][0]) if row else 0

    def snapshot(self) -> Snapshot:
        with self._lock, self._read_transaction():
            version = self._query("SELECT version FROM figkit_route_table WHERE id = 1")[0][0]
            rows = self._query("SELECT spec FROM figkit_routes ORDER BY name")
        return Snapshot(int(version), tuple(_load(r[0]) for r in rows))

    def history(self, route: str | None = None, limit: int = 50) -> list[ChangeRecord]:
        p = self.placeholder
        sql = "SELECT version, route, at, who, why, action, before, after FROM figkit_route_changes"
        args: tuple = ()
        if route:
            sql += f" WHERE route = {p}"
            args = (route,)
        sql += f" ORDER BY version DESC, route LIMIT {p}"
        with self._lock:
            rows = self._query(sql, (*args, limit))
        return [
            ChangeRecord(
                int(v),
                r,
                at,
                who,
                why,
                action,
                _audit_form(b),
                _audit_form(a),
            )
            for v, r, at, who, why, action, b, a in rows
        ]

    # --- writes ------------------------------------------------------------------------
    @contextmanager
    def change(
        self, who: str, why: str, action: str, expect_version: int | None = None
    ) -> Iterator[Transaction]:
        """Lock the table, hand over its routes, then write the edits as one new version.

        With expect_version, refuse (RouteConflict) when someone changed the table since
        the caller read it: a script cannot undo an operator's rollback unseen.
        """
        if not why or not why.strip():
            raise RouteError("say why: every change to the route table is audited (--why TEXT)")
        p = self.placeholder
        with self._lock, self._write_transaction():
            version = int(self._lock_version())
            if expect_version is not None and expect_version != version:
                raise RouteConflict(
                    f"the route table is at version {version}, not {expect_version}: it changed "
                    "since you read it; look again (figkit routes list) and retry"
                )
            rows = self._query("SELECT spec FROM figkit_routes")
            current = {r.name: r for r in (_load(row[0]) for row in rows)}
            tx = Transaction(dict(current), version)
            yield tx
            if not tx.edits:
                return
            tx.version = version + 1
            at = datetime.now(UTC).isoformat(timespec="milliseconds")
            self._execute(
                f"UPDATE figkit_route_table SET version = {p} WHERE id = 1", (tx.version,)
            )
            for name, after in sorted(tx.edits.items()):
                before = current.get(name)
                if before == after:
                    continue
                self._execute(f"DELETE FROM figkit_routes WHERE name = {p}", (name,))
                if after is not None:
                    spec = json.dumps(after.to_dict(), sort_keys=True)
                    self._execute(
                        f"INSERT INTO figkit_routes (name, spec) VALUES ({p}, {p})", (name, spec)
                    )
                self._execute(
                    "INSERT INTO figkit_route_changes (version, route, at, who, why, action, before, after)"
                    f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
                    (
                        tx.version,
                        name,
                        at,
                        who,
                        why.strip(),
                        action,
                        None if before is None else json.dumps(before.to_dict(), sort_keys=True),
                        None if after is None else json.dumps(after.to_dict(), sort_keys=True),
                    ),
                )

    # --- traffic figures: shadow comparisons, service outcomes ---------------------------
    def add_figures(
        self,
        second: int,
        figures: dict[str, dict[str, int]],
        noise: dict[str, set[str]],
        samples: list[dict],
        keep_samples: int,
    ) -> None:
        """Add one worker's counts for `second` (and new noise paths and samples), in one go."""
        if not figures and not noise and not samples:
            return
        p = self.placeholder
        now = time.time()
        with self._lock, self._write_transaction():
            for route, counts in figures.items():
                cols = [f for f in FIGURES if counts.get(f)]
                if not cols:
                    continue
                values = [counts[c] for c in cols]
                self._execute(
                    f"INSERT INTO figkit_route_figures (route, second, {', '.join(cols)})"
                    f" VALUES ({p}, {p}, {', '.join([p] * len(cols))})"
                    " ON CONFLICT (route, second) DO UPDATE SET "
                    + ", ".join(f"{c} = figkit_route_figures.{c} + excluded.{c}" for c in cols),
                    (route, second, *values),
                )
                shadow = [counts.get(c, 0) for c in SHADOW_FIGURES]
                if any(shadow):
                    self._execute(
                        f"INSERT INTO figkit_shadow_totals (route, since, {', '.join(SHADOW_FIGURES)})"
                        f" VALUES ({p}, {p}, {', '.join([p] * len(SHADOW_FIGURES))})"
                        " ON CONFLICT (route) DO UPDATE SET "
                        + ", ".join(
                            f"{c} = figkit_shadow_totals.{c} + excluded.{c}" for c in SHADOW_FIGURES
                        ),
                        (route, now, *shadow),
                    )
            for route, paths in noise.items():
                for path in sorted(paths):
                    self._execute(
                        f"INSERT INTO figkit_shadow_noise (route, path, at) VALUES ({p}, {p}, {p})"
                        " ON CONFLICT (route, path) DO NOTHING",
                        (route, path, now),
                    )
            trimmed = set()
            for sample in samples:
                self._execute(
                    "INSERT INTO figkit_shadow_samples (route, at, request_id, method, target, path, sample)"
                    f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                    (
                        sample["route"],
                        sample["at"],
                        sample["request_id"],
                        sample["method"],
                        sample["target"],
                        sample["path"],
                        json.dumps({"monolith": sample["monolith"], "service": sample["service"]}),
                    ),
                )
                trimmed.add(sample["route"])
            for route in trimmed:  # keep the newest `keep_samples` of each route
                self._execute(
                    f"DELETE FROM figkit_shadow_samples WHERE route = {p} AND at < ("
                    f" SELECT at FROM figkit_shadow_samples WHERE route = {p}"
                    f" ORDER BY at DESC LIMIT 1 OFFSET {p})",
                    (route, route, keep_samples - 1),
                )

    def prune_figures(self, before_second: int) -> None:
        """Drop per-second counts older than any gate's window."""
        with self._lock, self._write_transaction():
            self._execute(
                f"DELETE FROM figkit_route_figures WHERE second < {self.placeholder}",
                (before_second,),
            )

    def window(self, route: str, since_second: int) -> dict[str, int]:
        """A route's counts summed over workers from `since_second` on."""
        p = self.placeholder
        sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in FIGURES)
        with self._lock:
            row = self._query(
                f"SELECT {sums} FROM figkit_route_figures WHERE route = {p} AND second >= {p}",
                (route, since_second),
            )[0]
        return {c: int(v) for c, v in zip(FIGURES, row, strict=True)}

    def shadow_report(self, route: str) -> dict[str, Any]:
        """Totals since the route entered shadow, the learned noise, and the newest samples."""
        p = self.placeholder
        with self._lock, self._read_transaction():
            totals = self._query(
                f"SELECT since, {', '.join(SHADOW_FIGURES)} FROM figkit_shadow_totals WHERE route = {p}",
                (route,),
            )
            noise = self._query(
                f"SELECT path FROM figkit_shadow_noise WHERE route = {p} ORDER BY path", (route,)
            )
            samples = self._query(
                "SELECT at, request_id, method, target, path, sample FROM figkit_shadow_samples"
                f" WHERE route = {p} ORDER BY at DESC",
                (route,),
            )
        since, *counts = totals[0] if totals else (None, 0, 0, 0, 0, 0)
        report: dict[str, Any] = {c: int(v) for c, v in zip(SHADOW_FIGURES, counts, strict=True)}
        report["since"] = None if since is None else float(since)
        report["mismatch_rate"] = (
            report["mismatched"] / report["compared"] if report["compared"] else 0.0
        )
        report["noise"] = [r[0] for r in noise]
        report["samples"] = [
            {
                "at": float(at),
                "request_id": rid,
                "method": method,
                "target": target,
                "path": path,
                **json.loads(sample),
            }
            for at, rid, method, target, path, sample in samples
        ]
        return report

    def noise(self, routes: list[str]) -> dict[str, set[str]]:
        """Noise paths learned so far (by any worker) for these routes."""
        if not routes:
            return {}
        p = self.placeholder
        with self._lock:
            rows = self._query(
                f"SELECT route, path FROM figkit_shadow_noise WHERE route IN ({', '.join([p] * len(routes))})",
                tuple(routes),
            )
        found: dict[str, set[str]] = {r: set() for r in routes}
        for route, path in rows:
            found[route].add(path)
        return found

    def reset_shadow(self, route: str, forget_noise: bool = False) -> None:
        """Start a route's shadow figures afresh (counts, samples; noise too if asked)."""
        p = self.placeholder
        tables = ["figkit_shadow_totals", "figkit_shadow_samples", "figkit_route_figures"]
        if forget_noise:
            tables.append("figkit_shadow_noise")
        with self._lock, self._write_transaction():
            for table in tables:
                self._execute(f"DELETE FROM {table} WHERE route = {p}", (route,))

    def last_change(self, route: str) -> float | None:
        """When the route was last changed (epoch seconds), from the audit log."""
        p = self.placeholder
        with self._lock:
            rows = self._query(
                f"SELECT at FROM figkit_route_changes WHERE route = {p} ORDER BY version DESC LIMIT 1",
                (route,),
            )
        return datetime.fromisoformat(rows[0][0]).timestamp() if rows else None

    # --- backend hooks -----------------------------------------------------------------
    def _query(self, sql: str, args: tuple = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _execute(self, sql: str, args: tuple = ()) -> None:
        raise NotImplementedError

    def _lock_version(self) -> int:
        raise NotImplementedError

    def _read_transaction(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _write_transaction(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteStore(RouteStore):
    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self._write_transaction():
                for statement in SCHEMA:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT OR IGNORE INTO figkit_route_table (id, version) VALUES (1, 0)"
                )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the route store {url}: {exc}; check the path and its permissions"
            ) from exc

    def _query(self, sql: str, args: tuple = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, args).fetchall()

    def _execute(self, sql: str, args: tuple = ()) -> None:
        self._conn.execute(sql, args)

    def _lock_version(self) -> int:
        return self._conn.execute("SELECT version FROM figkit_route_table WHERE id = 1").fetchone()[
            0
        ]

    @contextmanager
    def _read_transaction(self):
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    @contextmanager
    def _write_transaction(self):
        self._conn.execute("BEGIN IMMEDIATE")  # takes the write lock before reading
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        # Under the lock: a poll still running in an executor thread when the worker stops
        # must finish before the connection goes (closing under a query crashed sqlite3).
        with self._lock:
            self._conn.close()


class PostgresStore(RouteStore):
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._closed = False
        import psycopg

        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            with self._conn.transaction():
                # Replicas starting together must not race on CREATE TABLE.
                self._conn.execute("SELECT pg_advisory_xact_lock(7412160)")
                for statement in SCHEMA:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO figkit_route_table (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING"
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the route store {_redact(url)}: {_first_line(exc)}"
            ) from exc

    def _ensure(self) -> None:
        """Reconnect after the server dropped us (restart, failover): polling must recover."""
        if self._closed:
            raise StoreError("the route store was closed (the proxy is stopping)")
        if self._conn.closed or self._conn.broken:
            try:
                self._conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            except self._psycopg.Error as exc:
                raise StoreError(
                    f"route store {_redact(self.url)} is unreachable: {_first_line(exc)}"
                ) from exc

    def _query(self, sql: str, args: tuple = ()) -> list[tuple[Any, ...]]:
        self._ensure()
        try:
            return self._conn.execute(sql, args).fetchall()
        except self._psycopg.OperationalError as exc:
            raise StoreError(f"route store {_redact(self.url)} failed: {_first_line(exc)}") from exc

    def _execute(self, sql: str, args: tuple = ()) -> None:
        self._conn.execute(sql, args)

    def _lock_version(self) -> int:
        row = self._conn.execute(
            "SELECT version FROM figkit_route_table WHERE id = 1 FOR UPDATE"
        ).fetchone()
        if row is None:
            raise StoreError("the route table has no version row; run `figkit proxy check`")
        return int(row[0])

    @contextmanager
    def _read_transaction(self):
        self._ensure()
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield

    @contextmanager
    def _write_transaction(self):
        self._ensure()
        with self._conn.transaction():
            yield

    def close(self) -> None:
        # Under the lock: a poll still running in an executor thread when the worker stops
        # must finish before the connection goes (closing under a query crashed sqlite3).
        with self._lock:
            self._closed = True
            self._conn.close()


def _load(spec: str) -> Route:
    """A stored row as a Route: older rows (`"mode"`, names reserved since) still load."""
    return Route.from_dict(json.loads(spec), stored=True)


def _audit_form(spec: str | None) -> dict | None:
    """An audit row's route in today's JSON form, whichever version wrote it."""
    if not spec:
        return None
    data = json.loads(spec)
    if isinstance(data, dict) and "mode" in data and "policy" not in data:
        mode = data.pop("mode")
        data["policy"] = {"mode": mode or "monolith"}
    return data


def open_store(url: str) -> RouteStore:
    """`sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://...`."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ConfigError(f"store {url!r} names no file: write sqlite:///var/figkit-routes.db")
        return SQLiteStore(url, Path(path))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise ConfigError(f"store {url!r} is not understood: use sqlite:///PATH or postgresql://...")


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
