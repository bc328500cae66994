"""`make proxy-demo`: the shop behind the strangler proxy, with one route ready to move.

Starts the monolith on :8100, a second deployment of it as the "catalog" upstream on
:8200, and `figkit proxy serve` on :8000 (admin API :8001); adds the route `catalog`
(`/api/products/*`, still served by the monolith). Then, from another terminal (with
--port-base or FIGKIT_VAR_DIR it prints the FIGKIT_ADMIN_URL and FIGKIT_ADMIN_TOKEN_FILE
to export first):

    .venv/bin/figkit routes set-mode catalog service --why "try the catalog service"
    .venv/bin/figkit routes rollback catalog --why "back to the monolith"
    .venv/bin/figkit routes promote catalog --why "compare the catalog service"   # shadow
    .venv/bin/figkit routes diff catalog

The dashboard is at http://127.0.0.1:8001/dashboard (the admin token is in
var/figkit-admin-token). Ctrl-C stops all three.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from legacy_monolith.demo import _port_free, prepare_database

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("proxy_demo.toml")
OFFSETS = {"proxy": 0, "proxy admin API": 1, "monolith": 100, "catalog": 200}
ROUTE = {
    "name": "catalog",
    "match": "/api/products/*",
    "target": "catalog",
    "why": "proxy demo: the catalog API",
}


def _token(var_dir: Path) -> str:
    file = var_dir / "figkit-admin-token"
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(secrets.token_urlsafe(24) + "\n")
        file.chmod(0o600)
    return file.read_text().strip()


def _config(var_dir: Path, base: int) -> Path:
    """proxy_demo.toml with this run's ports and var directory (FIGKIT_VAR_DIR, as the shop's)."""
    text = (
        TEMPLATE.read_text()
        .replace('"var/', f'"{var_dir}/')
        .replace("sqlite:///var/", f"sqlite:///{var_dir}/")
    )
    for default in (8200, 8100, 8001, 8000):
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{base + default - 8000}")
    path = var_dir / "proxy-demo" / "proxy.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def next_steps(proxy_url: str, admin_url: str, token_file: Path) -> list[str]:
    """What to type in another terminal (from the repository root), ready to copy-paste.

    `figkit routes` finds the admin API at http://127.0.0.1:8001 and the token in
    var/figkit-admin-token unless told otherwise: with another port base or var
    directory, the lines export FIGKIT_ADMIN_URL and FIGKIT_ADMIN_TOKEN_FILE first.
    """
    from strangler_proxy.cli import DEFAULT_ADMIN, LOCAL_TOKEN_FILE

    lines = []
    if admin_url.rstrip("/") != DEFAULT_ADMIN:
        lines.append(f"  export FIGKIT_ADMIN_URL={shlex.quote(admin_url)}")
    if token_file.resolve() != (ROOT / LOCAL_TOKEN_FILE).resolve():
        lines.append(f"  export FIGKIT_ADMIN_TOKEN_FILE={shlex.quote(str(token_file.resolve()))}")
    return [
        *lines,
        '  .venv/bin/figkit routes set-mode catalog service --why "try the catalog service"',
        f"  curl -si {proxy_url}/api/products/ | grep -i x-figkit-upstream   # catalog",
        '  .venv/bin/figkit routes rollback catalog --why "back to the monolith"',
        "or step by step behind the gates (shadow, then canary, then service):",
        '  .venv/bin/figkit routes promote catalog --why "compare the catalog service"',
        f"  for i in $(seq 200); do curl -s {proxy_url}/api/products/ >/dev/null; done",
        "  .venv/bin/figkit routes diff catalog",
        f"and watch it all on the dashboard: {admin_url.rstrip('/')}/dashboard "
        f"(log in with the token in {token_file})",
    ]


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


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    return str(body.get("detail") or body.get("error")) if isinstance(body, dict) else str(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_monolith.proxy_demo")
    parser.add_argument("--port-base", type=int, default=8000,
                        help="proxy on BASE, admin API BASE+1, shop BASE+100, catalog BASE+200")  # fmt: skip
    args = parser.parse_args(argv)
    ports = {name: args.port_base + offset for name, offset in OFFSETS.items()}
    taken = [f"{name} :{port}" for name, port in ports.items() if not _port_free("127.0.0.1", port)]
    if taken:
        print(
            f"proxy-demo: in use already: {', '.join(taken)}; stop what runs there first",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on kill too
    prepare_database()
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    token = _token(var_dir)
    config = _config(var_dir, args.port_base)
    proxy_url = f"http://127.0.0.1:{ports['proxy']}"
    admin_url = f"http://127.0.0.1:{ports['proxy admin API']}"
    python = sys.executable
    figkit = str(Path(python).with_name("figkit"))
    serve_shop = [python, "-m", "uvicorn", "legacy_monolith.config.asgi:application", "--host", "127.0.0.1",
                  "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--port"]  # fmt: skip
    procs = [
        subprocess.Popen([*serve_shop, str(ports["monolith"])], cwd=ROOT),
        subprocess.Popen([*serve_shop, str(ports["catalog"])], cwd=ROOT),
        subprocess.Popen([figkit, "proxy", "serve", "--config", str(config)], cwd=ROOT),
    ]
    try:
        for name, port in ports.items():
            _wait(name, port, procs)
        resp = httpx.post(f"{admin_url}/api/routes", json=ROUTE,
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        if resp.status_code not in (201, 409):  # 409: a second run finds it there already
            raise SystemExit(f"proxy-demo: adding the route failed: {_detail(resp)}")
        print(
            "\n".join(
                [
                    "",
                    "The shop behind the strangler proxy:",
                    f"  proxy:      {proxy_url}/   (send traffic here)",
                    f"  admin API:  {admin_url}/   (figkit routes ...; token in {var_dir}/figkit-admin-token)",
                    f"  upstreams:  monolith :{ports['monolith']}, catalog :{ports['catalog']}",
                    "  route:      catalog  /api/products/*  -> catalog, mode monolith (nothing moved yet)",
                    "",
                    f"In another terminal, in {ROOT}:",
                    *next_steps(proxy_url, admin_url, var_dir / "figkit-admin-token"),
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
