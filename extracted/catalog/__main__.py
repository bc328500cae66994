"""`python -m extracted.catalog`: migrate the service's database, then serve it with uvicorn."""

from __future__ import annotations

import argparse
import os
import socket
import sys


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extracted.catalog", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CATALOG_PORT", "8200")))
    args = parser.parse_args(argv)

    if not _port_free(args.host, args.port):
        print(
            f"catalog: {args.host}:{args.port} is already in use; "
            "stop what runs there or pass --port <free port> (or CATALOG_PORT)",
            file=sys.stderr,
        )
        return 2

    database = migrate()
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                f"Catalog service running at {base}/",
                f"  JSON API:  {base}/api/products/",
                f"  OpenAPI:   {base}/api/docs",
                f"  database:  {database}",
                "Stop with Ctrl-C.",
            ]
        ),
        flush=True,
    )
    import uvicorn

    uvicorn.run(
        "extracted.catalog.asgi:application",
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )
    return 0


def migrate() -> str:
    """Bring the service's database up to date; returns where it is, to print."""
    # This entry point is the service's: a DJANGO_SETTINGS_MODULE inherited from the monolith's
    # shell must not make it migrate the monolith.
    os.environ["DJANGO_SETTINGS_MODULE"] = "extracted.catalog.settings"
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


if __name__ == "__main__":
    sys.exit(main())
