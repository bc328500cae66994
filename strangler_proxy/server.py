"""`figkit proxy serve`: the data path under uvicorn (N workers) and the admin API beside it.

The admin API runs in its own process on its own port, so a busy data path never
starves it. Workers and admin share nothing but the route store and, for metrics,
a PROMETHEUS_MULTIPROC_DIR that this process creates before any of them starts.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from strangler_proxy.config import load_config, token_secrets
from strangler_proxy.store import open_store

UVICORN_OPTIONS = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "on",
    "server_header": False,  # the upstream's Server and Date pass through unchanged
    "date_header": False,
    "access_log": False,  # figkit writes its own JSON access log
    "timeout_graceful_shutdown": 10,
}


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _run_admin(config_path: str, log_level: str) -> None:
    import uvicorn

    from strangler_proxy.admin import create_admin_app

    config = load_config(config_path)
    base = Path(config_path).resolve().parent
    store = open_store(config.proxy.store)
    app = create_admin_app(config, store, token_secrets(config, base))
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
    token_secrets(config, config_path.parent)  # a missing secret stops us here, not in a child
    open_store(config.proxy.store).close()  # creates the schema once, and fails early
    workers = workers or config.proxy.workers

    metrics_dir = tempfile.mkdtemp(prefix="figkit-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before any worker imports prometheus
    os.environ["FIGKIT_PROXY_CONFIG"] = str(config_path)
    admin = multiprocessing.get_context("spawn").Process(
        target=_run_admin, args=(str(config_path), log_level), name="figkit-admin", daemon=True
    )
    admin.start()
    try:
        import uvicorn

        host, port = _split(config.proxy.listen)
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
