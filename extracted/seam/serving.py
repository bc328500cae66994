"""What `python -m extracted.<service>` does before it serves: is the port free, and the
service's database migrated."""

from __future__ import annotations

import os
import socket


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
