"""`make proxy-demo`: the shop and its extracted catalog service behind the strangler proxy.

Starts, on the embedded defaults (SQLite files and kombu's filesystem broker under var/):
- the monolith on :8100 and the catalog service (extracted/catalog) on :8200;
- the data seam between them: each side's relay and consumer (docs/seam.md); the catalog is
  backfilled into the service at start, so both sides hold the same data;
- `figkit proxy serve` on :8000 (admin API :8001), with the catalog's routes from the
  extraction plan (`figkit analyze legacy_monolith`, routes/NN-catalog.json), still served
  by the monolith.
Then, from another terminal (with --port-base or FIGKIT_VAR_DIR it prints the
FIGKIT_ADMIN_URL and FIGKIT_ADMIN_TOKEN_FILE to export first):

    .venv/bin/figkit routes set-mode api-catalog-product-list service --why "try the catalog service"
    .venv/bin/figkit routes rollback api-catalog-product-list --why "back to the monolith"
    .venv/bin/figkit routes promote api-catalog-product-list --why "compare the catalog service"   # shadow
    .venv/bin/figkit routes diff api-catalog-product-list

The dashboard is at http://127.0.0.1:8001/dashboard (the admin token is in
var/figkit-admin-token). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from extracted.seam.serving import port_free
from legacy_monolith.demo import prepare_database

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("proxy_demo.toml")
OFFSETS = {"proxy": 0, "proxy admin API": 1, "monolith": 100, "catalog": 200}
FIRST_ROUTE = "api-catalog-product-list"  # the route the printed next steps move


def _token(var_dir: Path, name: str = "figkit-admin-token") -> str:
    file = var_dir / name
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(secrets.token_urlsafe(24) + "\n")
        file.chmod(0o600)
    return file.read_text().strip()


def _catalog_route_file(var_dir: Path) -> Path:
    """The catalog's routes as the extraction plan writes them (`figkit analyze`, with the
    boundary catalog declared in legacy_monolith/figkit.toml)."""
    out = var_dir / "proxy-demo" / "analysis"
    figkit = str(Path(sys.executable).with_name("figkit"))
    done = subprocess.run([figkit, "analyze", "legacy_monolith", "--out", str(out), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    found = sorted((out / "routes").glob("*-catalog.json"))
    if done.returncode != 0 or not found:
        raise SystemExit(
            f"proxy-demo: the extraction plan wrote no catalog routes: {done.stderr.strip()[-300:]}"
        )
    return found[0]


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
        f'  .venv/bin/figkit routes set-mode {FIRST_ROUTE} service --why "try the catalog service"',
        f"  curl -si {proxy_url}/api/products/ | grep -i x-figkit-upstream   # catalog",
        f'  .venv/bin/figkit routes rollback {FIRST_ROUTE} --why "back to the monolith"',
        "or step by step behind the gates (shadow, then canary, then service):",
        f'  .venv/bin/figkit routes promote {FIRST_ROUTE} --why "compare the catalog service"',
        f"  for i in $(seq 200); do curl -s {proxy_url}/api/products/ >/dev/null; done",
        f"  .venv/bin/figkit routes diff {FIRST_ROUTE}",
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


def _until_reconciled(procs: list[subprocess.Popen], seconds: float = 60) -> None:
    """Wait until the catalog service holds what the monolith does, row for row."""
    from extracted.seam import settings as seam_settings
    from extracted.seam.reconcile import reconcile

    deadline = time.monotonic() + seconds
    while True:
        differences = reconcile(seam_settings.domain("catalog")).differences
        if not differences:
            return
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(
                f"proxy-demo: the catalog service still differs in {len(differences)} row(s) after the backfill"
            )
        time.sleep(0.5)


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
    taken = [f"{name} :{port}" for name, port in ports.items() if not port_free("127.0.0.1", port)]
    if taken:
        print(
            f"proxy-demo: in use already: {', '.join(taken)}; stop what runs there first",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on kill too
    # Before Django reads its settings: the seam finds the service through CATALOG_URL.
    os.environ["CATALOG_URL"] = f"http://127.0.0.1:{ports['catalog']}"
    os.environ["MONOLITH_URL"] = f"http://127.0.0.1:{ports['monolith']}"
    prepare_database()
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    token = _token(var_dir)
    config = _config(var_dir, args.port_base)
    proxy_url = f"http://127.0.0.1:{ports['proxy']}"
    admin_url = f"http://127.0.0.1:{ports['proxy admin API']}"
    route_file = _catalog_route_file(var_dir)
    python = sys.executable
    figkit = str(Path(python).with_name("figkit"))
    serve_shop = [python, "-m", "uvicorn", "legacy_monolith.config.asgi:application", "--host", "127.0.0.1",
                  "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--port"]  # fmt: skip
    monolith, catalog = (
        [python, "legacy_monolith/manage.py"],
        [python, "extracted/catalog/manage.py"],
    )
    env = {**os.environ, "CATALOG_URL": f"http://127.0.0.1:{ports['catalog']}",
           "MONOLITH_URL": f"http://127.0.0.1:{ports['monolith']}", "SEAM_TOKEN": _token(var_dir, "seam-token")}  # fmt: skip
    env.pop("DJANGO_SETTINGS_MODULE", None)
    os.environ["SEAM_TOKEN"] = env["SEAM_TOKEN"]
    procs = [
        subprocess.Popen([*serve_shop, str(ports["monolith"])], cwd=ROOT, env=env),
        subprocess.Popen(
            [python, "-m", "extracted.catalog", "--port", str(ports["catalog"])], cwd=ROOT, env=env
        ),
        subprocess.Popen([figkit, "proxy", "serve", "--config", str(config)], cwd=ROOT, env=env),
    ]
    try:
        for name, port in ports.items():
            _wait(name, port, procs)
        # The seam, both ways, once the service has migrated its database: the owner's relay
        # and the follower's consumer on each side.
        for command in (
            [*monolith, "relay_outbox"],
            [*catalog, "consume"],
            [*catalog, "relay_outbox"],
            [*monolith, "consume"],
        ):
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
        from django.core.management import call_command

        call_command("backfill", "catalog", wait=60)
        _until_reconciled(procs)
        routes = json.loads(route_file.read_text())["routes"]
        resp = httpx.post(f"{admin_url}/api/import", timeout=10,
                          json={"routes": routes, "why": f"proxy demo: the catalog's routes from the plan ({route_file.name})"},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        if resp.status_code not in (200, 201, 409):  # 409: a second run finds them there
            raise SystemExit(f"proxy-demo: importing the catalog's routes failed: {_detail(resp)}")
        print(
            "\n".join(
                [
                    "",
                    "The shop and its catalog service behind the strangler proxy:",
                    f"  proxy:      {proxy_url}/   (send traffic here)",
                    f"  admin API:  {admin_url}/   (figkit routes ...; token in {var_dir}/figkit-admin-token)",
                    f"  upstreams:  monolith :{ports['monolith']}, catalog service :{ports['catalog']} "
                    f"(OpenAPI: http://127.0.0.1:{ports['catalog']}/api/docs)",
                    f"  routes:     {len(routes)} catalog routes from {route_file}, all still on the monolith",
                    "  data:       the catalog is backfilled into the service; the monolith owns it "
                    "(legacy_monolith/manage.py flip_ownership catalog --to service moves it)",
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
