"""The README's three commands, end to end: the shop behind the proxy, one route moved and back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import ports

REPO = Path(__file__).resolve().parents[2]
FIRST = "api-catalog-product-list"  # the plan's route for /api/products/
FIGKIT = str(Path(sys.executable).with_name("figkit"))


def free_base() -> int:
    """A port base whose four demo ports (BASE, +1, +100, +200) are all free."""
    return ports.free_base((0, 1, 100, 200))


def test_three_commands_move_a_route_to_the_catalog_service_and_back(tmp_path):
    base = free_base()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["FIGKIT_VAR_DIR"] = str(tmp_path)
    demo = subprocess.Popen(
        [sys.executable, "-m", "legacy_monolith.proxy_demo", "--port-base", str(base)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    proxy = f"http://127.0.0.1:{base}"
    routes = [
        FIGKIT,
        "routes",
        "--admin",
        f"http://127.0.0.1:{base + 1}",
        "--token-file",
        str(tmp_path / "figkit-admin-token"),
    ]

    def served_by() -> str:
        return httpx.get(f"{proxy}/api/products/", timeout=10).headers["x-figkit-upstream"]

    try:
        deadline = time.monotonic() + 120
        while True:
            if demo.poll() is not None:
                pytest.fail(f"proxy-demo exited with {demo.returncode}:\n{demo.stdout.read()}")
            try:
                if httpx.get(f"http://127.0.0.1:{base + 1}/api/routes/{FIRST}", timeout=2,
                             headers={"Authorization": "Bearer " + (tmp_path / "figkit-admin-token").read_text().strip()}).status_code == 200:  # fmt: skip
                    break
            except (httpx.TransportError, FileNotFoundError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("proxy-demo did not come up within 120 s")
            time.sleep(0.5)
        assert served_by() == "monolith"
        moved = subprocess.run(
            [*routes, "set-mode", FIRST, "service", "--why", "try it"],
            capture_output=True,
            text=True,
        )
        assert moved.returncode == 0, moved.stderr
        assert "live on all" in moved.stdout
        assert served_by() == "catalog"
        products = httpx.get(f"{proxy}/api/products/", timeout=10)
        assert products.status_code == 200 and products.json()["count"] > 0, "the service was backfilled"
        from_monolith = httpx.get(f"http://127.0.0.1:{base + 100}/api/products/", timeout=10)
        assert products.json() == from_monolith.json(), "the service answers what the monolith does"
        assert httpx.get(f"{proxy}/", timeout=10).headers["x-figkit-upstream"] == "monolith"
        back = subprocess.run(
            [*routes, "rollback", FIRST, "--why", "back"], capture_output=True, text=True
        )
        assert back.returncode == 0, back.stderr
        assert served_by() == "monolith"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
    for port in (base, base + 1, base + 100, base + 200):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, (
                f"port {port} still answers after the demo stopped"
            )


def test_the_printed_next_steps_work_when_pasted_with_another_port_base(tmp_path, monkeypatch):
    """The demo's "in another terminal" lines, run by a shell in the repository root with
    no FIGKIT_ADMIN_* set, reach an admin API that is not on the default port."""
    from legacy_monolith.proxy_demo import next_steps
    from tests.strangler_proxy.conftest import ADMIN_SECRET
    from tests.strangler_proxy.test_admin_api import serve_admin_api

    with serve_admin_api(tmp_path, monkeypatch) as api:
        with api.admin() as admin:
            route = {"name": FIRST, "match": "/api/products/", "target": "catalog", "why": "t"}
            assert admin.post("/api/routes", json=route).status_code == 201
        token_file = tmp_path / "figkit-admin-token"
        token_file.write_text(ADMIN_SECRET + "\n")
        lines = next_steps("http://127.0.0.1:1", api.admin_url, token_file)
        assert any(f"FIGKIT_ADMIN_URL={api.admin_url}" in line for line in lines)
        pasted = ("export", "routes set-mode", "routes rollback", "routes promote", "routes diff")
        script = "\n".join(
            line.strip() for line in lines if any(word in line for word in pasted)
        ).replace(".venv/bin/figkit", FIGKIT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIGKIT_ADMIN")}
        done = subprocess.run(
            ["bash", "-ec", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert f"{FIRST} -> service" in done.stdout and "promoted to shadow" in done.stdout
        assert "0 compared" in done.stdout  # routes diff, before any traffic
        assert api.store.snapshot().routes[0].mode == "shadow"
        actions = [c.action for c in api.store.history(FIRST)]
        assert actions == ["promote", "rollback", "set-mode", "add"]


def test_the_default_ports_need_no_exports():
    from legacy_monolith.proxy_demo import ROOT, next_steps

    lines = next_steps(
        "http://127.0.0.1:8000", "http://127.0.0.1:8001", ROOT / "var" / "figkit-admin-token"
    )
    assert not any("export" in line for line in lines)
