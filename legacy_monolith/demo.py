"""`make demo`: migrate and seed the shop on its embedded defaults, then serve it.

Idempotent: a second run keeps the data it made the first time.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
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
    parser = argparse.ArgumentParser(prog="python -m legacy_monolith.demo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("MONOLITH_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MONOLITH_PORT", "8100")))
    parser.add_argument("--size", choices=["small", "large"], default="small", help="seed size on first run")
    parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker beside the server")
    args = parser.parse_args(argv)

    if not _port_free(args.host, args.port):
        print(
            f"demo: {args.host}:{args.port} is already in use; stop what runs there or pass MONOLITH_PORT=<free port>",
            file=sys.stderr,
        )
        return 2

    prepare_database(args.size)
    from django.conf import settings

    worker = None if args.no_worker else start_worker()
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                "",
                f"Legacy shop monolith running at {base}/",
                f"  shop:      {base}/",
                f"  JSON API:  {base}/api/products/",
                f"  admin:     {base}/admin/   (user admin, password admin)",
                f"  worker:    {'celery, broker ' + settings.CELERY_BROKER_URL if worker else 'not started'}",
                "Stop with Ctrl-C.",
                "",
            ]
        ),
        flush=True,
    )
    import uvicorn

    try:
        uvicorn.run(
            "legacy_monolith.config.asgi:application",
            host=args.host,
            port=args.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
        )
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def prepare_database(size: str = "small") -> None:
    """Migrate, and seed on first run: what every demo does before it serves the shop."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    database = settings.DATABASES["default"]
    print(f"demo: database {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed", size=size, if_empty=True)


def start_worker() -> subprocess.Popen:
    """A Celery worker for the mail, stock and report tasks the shop queues."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "legacy_monolith.config", "worker", "--quiet",
         "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
    )


if __name__ == "__main__":
    sys.exit(main())
