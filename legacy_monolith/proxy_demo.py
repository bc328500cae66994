"""`make proxy-demo`: the shop behind the strangler proxy, with one route ready to move.

Starts the monolith on :8100, a second deployment of it as the "catalog" upstream on
:8200, and `figkit proxy serve` on :8000 (admin API :8001); adds the route `catalog`
(`/api/products/*`, still served by the monolith). Then, from another terminal:

    .venv/bin/figkit routes set-mode catalog service --why "try the catalog service"
    .venv/bin/figkit routes rollback catalog --why "back to the monolith"

Ctrl-C stops all three.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from legacy_monolith.demo import _port_free, prepare_database

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).with_name("proxy_demo.toml")
TOKEN_FILE = Path("var/figkit-admin-token")
PORTS = {"proxy": 8000, "proxy admin API": 8001, "monolith": 8100, "catalog": 8200}
ROUTE = {
    "name": "catalog",
    "match": "/api/products/*",
    "target": "catalog",
    "why": "proxy demo: the catalog API",
}


def _token() -> str:
    if not TOKEN_FILE.exists():
        TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
        TOKEN_FILE.write_text(secrets.token_urlsafe(24) + "\n")
        TOKEN_FILE.chmod(0o600)
    return TOKEN_FILE.read_text().strip()


def _wait(name: str, port: int, procs: list[subprocess.Popen], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(
                f"proxy-demo: a process stopped while {name} was starting; see its output above"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(
        f"proxy-demo: {name} did not listen on 127.0.0.1:{port} within {seconds:.0f} s"
    )


def main() -> int:
    os.chdir(ROOT)
    taken = [f"{name} :{port}" for name, port in PORTS.items() if not _port_free("127.0.0.1", port)]
    if taken:
        print(
            f"proxy-demo: in use already: {', '.join(taken)}; stop what runs there first",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on kill too
    prepare_database()
    token = _token()
    python = sys.executable
    figkit = str(Path(python).with_name("figkit"))
    serve_shop = [python, "-m", "uvicorn", "legacy_monolith.config.asgi:application", "--host", "127.0.0.1",
                  "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--port"]  # fmt: skip
    procs = [
        subprocess.Popen([*serve_shop, "8100"]),
        subprocess.Popen([*serve_shop, "8200"]),
        subprocess.Popen([figkit, "proxy", "serve", "--config", str(CONFIG.relative_to(ROOT))]),
    ]
    try:
        for name, port in PORTS.items():
            _wait(name, port, procs)
        resp = httpx.post("http://127.0.0.1:8001/api/routes", json=ROUTE,
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        if resp.status_code not in (201, 409):  # 409: a second run finds it there already
            raise SystemExit(f"proxy-demo: adding the route failed: {resp.json().get('error')}")
        print(
            "\n".join(
                [
                    "",
                    "The shop behind the strangler proxy:",
                    "  proxy:        http://127.0.0.1:8000/   (send traffic here)",
                    "  admin API:    http://127.0.0.1:8001/   (figkit routes ...; token in var/figkit-admin-token)",
                    "  upstreams:    monolith http://127.0.0.1:8100, catalog http://127.0.0.1:8200",
                    "  route:        catalog  /api/products/*  -> catalog, mode monolith (nothing moved yet)",
                    "",
                    "In another terminal:",
                    '  .venv/bin/figkit routes set-mode catalog service --why "try the catalog service"',
                    "  curl -si http://127.0.0.1:8000/api/products/ | grep -i x-figkit-upstream   # catalog",
                    '  .venv/bin/figkit routes rollback catalog --why "back to the monolith"',
                    "",
                    "Ctrl-C stops everything.",
                ]
            ),
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
