"""`figkit proxy serve`: the data path under uvicorn (N workers) and the admin API beside it.

The admin API runs in its own process on its own port, so a busy data path never
starves it. Workers and admin share nothing but the route store and, for metrics,
a PROMETHEUS_MULTIPROC_DIR that this process creates before any of them starts.
"""

from __future__ import annotations

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
from typing import Any, cast

from strangler_proxy import rollout
from strangler_proxy.config import load_config, token_secrets
from strangler_proxy.errors import ProxyError
from strangler_proxy.store import open_store

UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "on",
    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the
    # client address; figkit applies its own trusted_proxies rule (forwarding.py).
    "proxy_headers": False,
    "server_header": False,  # the upstream's Server and Date pass through unchanged
    "date_header": False,
    "access_log": False,  # figkit writes its own JSON access log
    "timeout_graceful_shutdown": 10,
}


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _exit_with_parent() -> None:
    """Stop this admin process when `figkit proxy serve` goes, however it went."""
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


def serve(config_path: Path, workers: int | None = None, log_level: str = "warning") -> None:
    """Check the config, then run the admin process and the proxy workers until interrupted."""
    config_path = config_path.resolve()
    config = load_config(config_path)
    token_secrets(config)  # a missing secret stops us here, not in a child
    open_store(config.proxy.store).close()  # creates the schema once, and fails early
    workers = workers or config.proxy.workers
    for key in ("listen", "admin_listen"):
        _check_free(key, getattr(config.proxy, key))

    metrics_dir = tempfile.mkdtemp(prefix="figkit-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before any worker imports prometheus
    os.environ[rollout.RUN_DIR_ENV] = metrics_dir  # workers say which table version they serve
    os.environ["FIGKIT_PROXY_CONFIG"] = str(config_path)
    admin = multiprocessing.get_context("spawn").Process(
        target=_run_admin, args=(str(config_path), log_level), name="figkit-admin", daemon=True
    )
    admin.start()
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down; make that an exit that
    # still runs the cleanup below instead of killing the process outright.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _wait_for_admin(admin, *_split(config.proxy.admin_listen))
        host, port = _split(config.proxy.listen)
        if config.proxy.server == "granian":
            _run_granian(host, port, workers, log_level)
            return
        import uvicorn

        uvicorn.run(
            "strangler_proxy.proxy:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            **UVICORN_OPTIONS,
        )
    finally:
        admin.terminate()
        admin.join(5)
        shutil.rmtree(metrics_dir, ignore_errors=True)


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


def _run_granian(host: str, port: int, workers: int, log_level: str) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops

    Granian(
        "strangler_proxy.proxy:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        loop=Loops.uvloop,
        workers=workers,
        websockets=False,
        log_level=cast(
            Any,
            log_level
            if log_level in ("critical", "error", "warning", "info", "debug")
            else "warning",
        ),
        log_access=False,
        respawn_failed_workers=True,
    ).serve()
