"""The whole shop as processes: the monolith, the catalog and payments services, a Celery worker
with beat, the seam's relays and consumers, and the strangler proxy in front, run by honcho.

`Stack` knows the ports, the environment and the commands; it writes them as a Procfile and an
.env file under `<var>/stack/` (so `honcho -f var/stack/Procfile -e var/stack/.env start` runs the
same thing by hand), prepares the databases, starts honcho and waits until every part really
answers. honcho is the supervisor: when any process stops, it stops all the others, and the
stack reports the process that stopped and the end of its output.

Embedded defaults: a SQLite file per part and kombu's filesystem broker, all under one var
folder. With `postgres=` every part gets its own database on that server (created when missing)
and with `broker=` the Celery broker is that URL (RabbitMQ or Redis).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from extracted.seam.serving import port_free

ROOT = Path(__file__).resolve().parents[2]
PROXY_TEMPLATE = Path(__file__).with_name("proxy.toml")
OFFSETS = {"proxy": 0, "proxy admin API": 1, "monolith": 100, "catalog": 200, "payments": 300}
READY_WITHIN_S = 90.0
STOP_WITHIN_S = 20.0


class StackError(Exception):
    """The stack cannot start or a part of it stopped: one line that says which and why."""


@dataclass
class Stack:
    var_dir: Path
    port_base: int = 8000
    postgres: str | None = None  # server URL, e.g. postgresql://postgres@127.0.0.1:5432
    broker: str | None = None  # CELERY_BROKER_URL; None: kombu's filesystem transport
    name: str = "figkit"  # prefix of the databases and queues on shared servers
    extra_env: dict[str, str] = field(default_factory=dict)
    output: Path | None = None  # where honcho writes; None: <var>/stack/stack.log

    def __post_init__(self) -> None:
        self.var_dir = Path(self.var_dir).resolve()
        self.ports = {part: self.port_base + offset for part, offset in OFFSETS.items()}
        self.folder = self.var_dir / "stack"
        self.log = self.output or self.folder / "stack.log"
        self._honcho: subprocess.Popen | None = None
        self._log_file: BinaryIO | None = None
        self._log_from = 0  # this run's part of the log starts here

    # -- where things are ------------------------------------------------------------------
    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.ports[part]}"

    @property
    def proxy_url(self) -> str:
        return self.url("proxy")

    @property
    def admin_url(self) -> str:
        return self.url("proxy admin API")

    @property
    def token_file(self) -> Path:
        return self.var_dir / "figkit-admin-token"

    @property
    def admin_token(self) -> str:
        return _secret(self.token_file)

    def database_url(self, part: str) -> str | None:
        if not self.postgres:
            return None
        return f"{self.postgres.rstrip('/')}/{self.name}_{part}"

    def env(self) -> dict[str, str]:
        """Every part's environment: one var folder, where the others answer, the shared
        secrets, and on real servers each part's database and the broker."""
        env = {
            "FIGKIT_VAR_DIR": str(self.var_dir),
            "MONOLITH_URL": self.url("monolith"),
            "CATALOG_URL": self.url("catalog"),
            "PAYMENTS_URL": self.url("payments"),
            "SEAM_TOKEN": _secret(self.var_dir / "seam-token"),
            "FIGKIT_ADMIN_URL": self.admin_url,
            "FIGKIT_ADMIN_TOKEN_FILE": str(self.token_file),
            "PYTHONUNBUFFERED": "1",
        }
        if self.postgres:
            env["DATABASE_URL"] = str(self.database_url("monolith"))
            env["CATALOG_DATABASE_URL"] = str(self.database_url("catalog"))
            env["PAYMENTS_DATABASE_URL"] = str(self.database_url("payments"))
            # No persistent connections: under ASGI each request may run on another thread, and
            # kept connections pile up to PostgreSQL's max_connections ("too many clients").
            env["DATABASE_CONN_MAX_AGE"] = "0"
        if self.broker:
            env["CELERY_BROKER_URL"] = self.broker
            env["SEAM_QUEUE_PREFIX"] = f"{self.name}."
        env.update(self.extra_env)
        return env

    def processes(self) -> dict[str, str]:
        """The Procfile: name -> command. `exec` so that honcho's signal reaches the process."""
        py = sys.executable
        figkit = str(Path(py).with_name("figkit"))
        monolith, catalog = f"{py} legacy_monolith/manage.py", f"{py} extracted/catalog/manage.py"
        serve = (
            f"{py} -m uvicorn --host 127.0.0.1 --loop uvloop --http httptools --log-level warning"
        )
        return {
            "monolith": f"exec {serve} --port {self.ports['monolith']} legacy_monolith.config.asgi:application",
            "catalog": f"exec {serve} --port {self.ports['catalog']} extracted.catalog.asgi:application",
            "payments": f"exec {serve} --port {self.ports['payments']} extracted.payments.asgi:application",
            # Beat inside the one worker: sagas to resume every 5 s and the shop's periodic tasks.
            "worker": f"exec {py} -m celery -A legacy_monolith.config worker --beat --pool=solo "
            f"--loglevel=WARNING --without-gossip --without-mingle "
            f"--schedule {self.folder / 'celerybeat-schedule'}",
            # The seam both ways: the owner's relay and the follower's consumer on each side.
            "relay": f"exec {monolith} relay_outbox",
            "catalog-consumer": f"exec {catalog} consume",
            "catalog-relay": f"exec {catalog} relay_outbox",
            "monolith-consumer": f"exec {monolith} consume",
            "proxy": f"exec {figkit} proxy serve --config {self.folder / 'proxy.toml'}",
        }

    # -- before it runs ----------------------------------------------------------------------
    def check_ports(self) -> None:
        taken = [
            f"{part} :{port}"
            for part, port in self.ports.items()
            if not port_free("127.0.0.1", port)
        ]
        if taken:
            raise StackError(
                f"in use already: {', '.join(taken)}; stop what runs there or choose another port base"
            )

    def write_files(self) -> Path:
        """var/stack/Procfile, .env and proxy.toml; returns the Procfile."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _secret(self.token_file)
        env = self.env()
        procfile = self.folder / "Procfile"
        _write(procfile, "".join(f"{name}: {cmd}\n" for name, cmd in self.processes().items()))
        _write(self.folder / ".env", "".join(f"{k}={_quoted(v)}\n" for k, v in env.items()))
        proxy = PROXY_TEMPLATE.read_text()
        for part in ("proxy", "proxy admin API", "monolith", "catalog", "payments"):
            proxy = proxy.replace(
                f"127.0.0.1:{8000 + OFFSETS[part]}", f"127.0.0.1:{self.ports[part]}"
            )
        store = (
            f"{self.database_url('proxy')}"
            if self.postgres
            else f"sqlite:///{self.folder / 'routes.db'}"
        )
        proxy = proxy.replace("@STORE@", store).replace("@VAR@", str(self.folder))
        proxy = proxy.replace("@TOKEN_FILE@", str(self.token_file))
        _write(self.folder / "proxy.toml", proxy)
        return procfile

    def prepare(self, seed: str = "small", *, fresh: bool = False) -> None:
        """Databases made and migrated, the shop seeded on its first run. Idempotent. `fresh`
        starts from nothing: the var folder's databases and broker files, or the stack's own
        PostgreSQL databases, are dropped, and its seam queues on the broker purged."""
        names = [f"{self.name}_{p}" for p in ("monolith", "catalog", "payments", "proxy")]
        if fresh:
            self._forget(names)
        if self.postgres:
            _create_databases(self.postgres, names)
        env = {**os.environ, **self.env()}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        py = sys.executable
        steps = [
            (
                [py, "legacy_monolith/manage.py", "migrate", "--verbosity", "0"],
                "migrating the monolith",
            ),
            (
                [py, "legacy_monolith/manage.py", "seed", "--size", seed, "--if-empty"],
                "seeding the shop",
            ),
            (
                [py, "extracted/catalog/manage.py", "migrate", "--verbosity", "0"],
                "migrating the catalog service",
            ),
            (
                [py, "extracted/payments/manage.py", "migrate", "--verbosity", "0"],
                "migrating the payments service",
            ),
        ]
        for command, what in steps:
            done = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
            )
            if done.returncode != 0:
                last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                raise StackError(f"{what} failed: {last[0]}")

    def _forget(self, databases: list[str]) -> None:
        import shutil

        if self.postgres:
            _drop_databases(self.postgres, databases)
        for path in [
            *self.var_dir.glob("*.sqlite3*"),
            *self.var_dir.glob("*.lock"),
            self.folder / "routes.db",
        ]:
            path.unlink(missing_ok=True)
        for folder in ("broker", "mail"):
            shutil.rmtree(self.var_dir / folder, ignore_errors=True)
        (self.var_dir / "traces.jsonl").unlink(missing_ok=True)
        if self.broker:
            from kombu import Connection

            try:
                with Connection(self.broker, connect_timeout=5) as conn:
                    conn.ensure_connection(max_retries=1)
                    for side in ("monolith", "catalog"):
                        with contextlib.suppress(Exception), conn.channel() as channel:
                            channel.queue_purge(f"{self.name}.seam.{side}")  # absent: nothing to do
            except Exception as exc:
                raise StackError(f"the broker {self.broker}: {exc}") from exc

    # -- running -----------------------------------------------------------------------------
    def start(self, *, show_output: bool = False) -> None:
        """Start honcho on the Procfile and wait until every part answers."""
        self.check_ports()
        procfile = self.write_files()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self._log_from = log.tell()
        command = [sys.executable, "-m", "honcho", "--no-colour", "-f", str(procfile),
                   "-e", str(self.folder / ".env"), "-d", str(ROOT), "start"]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        self._honcho = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=None if show_output else self._log_file, stderr=subprocess.STDOUT,
            start_new_session=not show_output,
        )  # fmt: skip
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, within: float = READY_WITHIN_S) -> None:
        """Every server's readiness probe says ready and every process is still up."""
        probes = {
            "monolith": f"{self.url('monolith')}/readyz",
            "catalog": f"{self.url('catalog')}/readyz",
            "payments": f"{self.url('payments')}/readyz",
            "proxy admin API": f"{self.admin_url}/healthz",
            "proxy": f"{self.proxy_url}/api/health",
        }
        deadline = time.monotonic() + within
        waiting = dict(probes)
        with httpx.Client(timeout=2.0) as client:
            while waiting:
                self.check_alive()
                for part, url in list(waiting.items()):
                    try:
                        if client.get(url).status_code == 200:
                            del waiting[part]
                    except httpx.HTTPError:
                        pass
                if waiting and time.monotonic() > deadline:
                    raise StackError(
                        f"not ready within {within:.0f} s: {', '.join(waiting)} (see {self.log})"
                    )
                if waiting:
                    time.sleep(0.3)

    def check_alive(self) -> None:
        """Raise StackError naming the process that stopped (honcho then stops them all)."""
        if self._honcho is None:
            raise StackError("the stack is not started")
        if self._honcho.poll() is None and not self._stopped_by_log():
            return
        stopped = self._stopped_by_log() or "honcho"
        raise StackError(
            f"{stopped} stopped, so the whole stack did; the end of its output:\n{self.tail(stopped)}"
        )

    def stopped(self) -> str | None:
        """What check_alive would say, or None while the stack runs (or never started)."""
        if self._honcho is None:
            return None
        try:
            self.check_alive()
        except StackError as exc:
            return str(exc)
        return None

    def _this_run(self) -> str:
        if not self.log.exists():
            return ""
        with open(self.log, "rb") as log:
            log.seek(self._log_from)
            return log.read().decode(errors="replace")

    def _stopped_by_log(self) -> str | None:
        found = re.search(r"system\s*\| (\S+) stopped \(rc=", self._this_run())
        return found.group(1) if found else None

    def pid_of(self, name: str) -> int:
        """The pid of a process of the Procfile, as honcho printed it (`exec`: the command's own)."""
        found = re.findall(
            rf"system\s*\| {re.escape(name)}\.1 started \(pid=(\d+)\)", self._this_run()
        )
        if not found:
            raise StackError(f"no process {name} in this run's log {self.log}")
        return int(found[-1])

    def tail(self, name: str | None = None, lines: int = 15) -> str:
        text = self._this_run().splitlines()
        if name:
            text = [line for line in text if re.match(rf"\S*\s*{re.escape(name)}\s*\|", line)]
        return "\n".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        """SIGTERM to honcho, which passes it on; what is still up after STOP_WITHIN_S is
        killed, honcho's children included."""
        honcho, self._honcho = self._honcho, None
        if honcho is not None and honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)
            try:
                honcho.wait(STOP_WITHIN_S)
            except subprocess.TimeoutExpired:
                _kill_tree(honcho.pid)
                honcho.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def running(self) -> bool:
        return self._honcho is not None and self._honcho.poll() is None

    def wait(self) -> int:
        """Until honcho ends (Ctrl-C, or a process stopped); its exit code."""
        assert self._honcho is not None
        return self._honcho.wait()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _secret(file: Path) -> str:
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        _write(file, secrets.token_urlsafe(24) + "\n")
        file.chmod(0o600)
    return file.read_text().strip()


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a stopped run never leaves half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "") + "'" if re.search(r"[\s#'\"$]", value) else value


def _create_databases(server: str, names: list[str]) -> None:
    import psycopg

    try:
        with psycopg.connect(
            f"{server.rstrip('/')}/postgres", autocommit=True, connect_timeout=5
        ) as conn:
            have = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in names:
                if name not in have:
                    conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise StackError(f"PostgreSQL at {server}: {str(exc).strip().splitlines()[0]}") from exc


def _drop_databases(server: str, names: list[str]) -> None:
    import psycopg

    try:
        with psycopg.connect(
            f"{server.rstrip('/')}/postgres", autocommit=True, connect_timeout=5
        ) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        raise StackError(f"PostgreSQL at {server}: {str(exc).strip().splitlines()[0]}") from exc


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        for child in parent.children(recursive=True):
            child.kill()
        parent.kill()
    except psutil.NoSuchProcess:
        pass
