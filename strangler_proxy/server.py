"""`figkit proxy serve`: N data-path worker processes on one port, and the admin API beside them.

Each worker binds its own socket with SO_REUSEPORT, so the kernel spreads connections
over them without a shared accept lock; each runs the protocol-level data path
(datapath.py) on uvloop. The admin API (a Starlette app under uvicorn) runs in its own
process on its own port, so a busy data path never starves it. This process only
supervises: it restarts a worker that dies, and on SIGTERM or SIGINT asks every worker
to drain (requests in flight finish, for at most shutdown_timeout), then stops.

Workers and admin share nothing but the route store and, for metrics and rollout, a
directory this process creates before any of them starts.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from strangler_proxy import rollout
from strangler_proxy.config import load_config, token_secrets
from strangler_proxy.errors import ProxyError
from strangler_proxy.store import open_store

log = logging.getLogger("figkit.proxy")
_RESPAWN_LIMIT = 5  # worker deaths within _RESPAWN_WINDOW seconds before the proxy gives up
_RESPAWN_WINDOW = 30.0


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _exit_with_parent() -> None:
    """Stop this child process when `figkit proxy serve` goes, however it went."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="figkit-parent-watch").start()


def _run_admin(config_path: str, log_level: str) -> None:
    import uvicorn

    _exit_with_parent()
    from strangler_proxy.admin import create_admin_app

    config = load_config(config_path)
    store = open_store(config.proxy.store)
    app = create_admin_app(config, store, token_secrets(config), rollout.from_environment())
    host, port = _split(config.proxy.admin_listen)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def _run_worker(config_path: str, log_level: str) -> None:
    """One data-path worker process: serve until SIGTERM/SIGINT, then drain and exit."""
    import asyncio

    import uvloop

    from strangler_proxy.datapath import Worker, listening_socket

    logging.basicConfig(
        level=log_level.upper(), format="figkit proxy worker %(process)d: %(message)s"
    )
    _exit_with_parent()
    config = load_config(config_path)
    host, port = _split(config.proxy.listen)

    async def main() -> None:
        worker = Worker(config, tune_gc=True)
        await worker.start([listening_socket(host, port)])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await worker.stop()

    uvloop.run(main())


def serve(config_path: Path, workers: int | None = None, log_level: str = "warning") -> None:
    """Check the config, then run the admin process and the proxy workers until interrupted."""
    config_path = config_path.resolve()
    config = load_config(config_path)
    token_secrets(config)  # a missing secret stops us here, not in a child
    open_store(config.proxy.store).close()  # creates the schema once, and fails early
    workers = workers or config.proxy.workers
    for key in ("listen", "admin_listen"):
        _check_free(key, getattr(config.proxy, key))

    run_dir = tempfile.mkdtemp(prefix="figkit-run-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = run_dir  # before any child imports prometheus
    os.environ[rollout.RUN_DIR_ENV] = run_dir  # workers say which table version they serve
    spawn = multiprocessing.get_context("spawn")
    admin = spawn.Process(
        target=_run_admin, args=(str(config_path), log_level), name="figkit-admin", daemon=True
    )
    admin.start()
    stopping = threading.Event()

    def on_signal(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pool: list[multiprocessing.process.BaseProcess] = []
    try:
        _wait_for_admin(admin, *_split(config.proxy.admin_listen))

        def start_worker() -> multiprocessing.process.BaseProcess:
            proc = spawn.Process(
                target=_run_worker,
                args=(str(config_path), log_level),
                name="figkit-worker",
                daemon=True,
            )
            proc.start()
            return proc

        pool = [start_worker() for _ in range(workers)]
        _wait_for_listen(pool, *_split(config.proxy.listen))
        deaths: list[float] = []
        while not stopping.wait(0.2):
            if not admin.is_alive():
                raise ProxyError("the admin process stopped; see the log above")
            for i, proc in enumerate(pool):
                if proc.is_alive():
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if now - t < _RESPAWN_WINDOW] + [now]
                if len(deaths) > _RESPAWN_LIMIT:
                    raise ProxyError(
                        f"proxy workers keep dying ({len(deaths)} in {_RESPAWN_WINDOW:.0f} s, last exit "
                        f"code {proc.exitcode}); see the log above"
                    )
                print(
                    f"figkit proxy: worker {proc.pid} exited with code {proc.exitcode}; starting another",
                    file=sys.stderr,
                )
                pool[i] = start_worker()
    finally:
        _stop(pool, config.proxy.shutdown_timeout)
        admin.terminate()
        admin.join(5)
        if admin.is_alive():
            admin.kill()
        shutil.rmtree(run_dir, ignore_errors=True)


def _stop(pool: list, drain: float) -> None:
    """Ask every worker to drain; kill what is still there after drain + 5 s."""
    for proc in pool:
        if proc.is_alive() and proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + drain + 5
    for proc in pool:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(2)


def _wait_for_admin(
    admin: multiprocessing.process.BaseProcess, host: str, port: int, seconds: float = 15
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not admin.is_alive():
            raise ProxyError(
                f"the admin API could not start on {host}:{port} (is the port taken?); see the log above"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ProxyError(f"the admin API did not listen on {host}:{port} within {seconds:.0f} s")


def _wait_for_listen(pool: list, host: str, port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(proc.is_alive() for proc in pool):
            raise ProxyError(
                f"the proxy workers could not start on {host}:{port}; see the log above"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ProxyError(f"the proxy did not listen on {host}:{port} within {seconds:.0f} s")


def _check_free(key: str, listen: str) -> None:
    host, port = _split(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProxyError(
            f"proxy.{key} = {listen!r}: cannot resolve {host!r} ({exc.strerror})"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ProxyError(
                f"proxy.{key} = {listen!r} cannot be used ({exc.strerror}): is another proxy running? "
                "Stop it or pick another port in the config"
            ) from None
