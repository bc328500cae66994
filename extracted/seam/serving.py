"""How a service (extracted/<service>) is set up and started: its database settings, and what
`python -m extracted.<service>` does (is the port free, migrate, print where, serve)."""

from __future__ import annotations

import os
import socket
from typing import Any


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def migrate(settings_module: str) -> str:
    """Bring the service's database up to date; returns where it is, to print."""
    # This entry point is the service's: a DJANGO_SETTINGS_MODULE inherited from the monolith's
    # shell must not make it migrate the monolith.
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()
    db = settings.DATABASES["default"]
    vendor = db["ENGINE"].rsplit(".", 1)[-1]
    if vendor == "sqlite3":
        return f"sqlite {db['NAME']}"
    return f"{vendor} {db['NAME']} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 'default port'}"


def main(argv: list[str] | None, *, service: str, default_port: int, links: dict[str, str]) -> int:
    """`python -m extracted.SERVICE [--host] [--port]`: refuse a taken port with one line, migrate
    the service's database, print where it answers (LINKS: label -> path), serve it with uvicorn."""
    import argparse
    import sys

    env_port = f"{service.upper()}_PORT"
    parser = argparse.ArgumentParser(prog=f"python -m extracted.{service}",
                                     description=f"Migrate the {service} service's database, then serve it.")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get(env_port, str(default_port)))
    )
    args = parser.parse_args(argv)
    if not port_free(args.host, args.port):
        print(f"{service}: {args.host}:{args.port} is already in use; "
              f"stop what runs there or pass --port <free port> (or {env_port})", file=sys.stderr)  # fmt: skip
        return 2
    database = migrate(f"extracted.{service}.settings")
    base = f"http://{args.host}:{args.port}"
    lines = [f"{service.capitalize()} service running at {base}/"]
    lines += [f"  {label + ':':<10} {base}{path}" for label, path in links.items()]
    lines += [f"  {'database:':<10} {database}", "Stop with Ctrl-C."]
    print("\n".join(lines), flush=True)
    import uvicorn

    uvicorn.run(f"extracted.{service}.asgi:application", host=args.host, port=args.port,
                loop="uvloop", http="httptools", log_level="warning")  # fmt: skip
    return 0


def database(url: str, conn_max_age: int) -> dict[str, Any]:
    """A service's DATABASES["default"] from its URL. An embedded SQLite file gets its folder,
    WAL (the server reads while the seam's inbox writes) and BEGIN IMMEDIATE: a transaction takes
    the write lock when it starts and waits for it (up to 20 s); a deferred one that read first
    fails at once with "database is locked" when another process wrote meanwhile."""
    from pathlib import Path

    import dj_database_url

    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=conn_max_age))
    if config["ENGINE"].endswith("sqlite3"):
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config.setdefault("OPTIONS", {}).update(
            init_command="PRAGMA journal_mode=WAL;", transaction_mode="IMMEDIATE", timeout=20
        )
    return config
