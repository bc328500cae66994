"""docs/workshop.md end to end: the whole stack running, each of the workshop's eleven steps
taken the way the page says, and `figkit workshop check N` missing before the step and holding
after it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from legacy_monolith.workshop import checks
from legacy_monolith.workshop.stack import OFFSETS, Stack
from legacy_monolith.workshop.story import PAGES, SERVICE_ROUTES, import_catalog_routes
from tests.e2e import ports

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[2]
FIGKIT = str(Path(sys.executable).with_name("figkit"))
# Settings of the test run that must not leak into the stack's processes.
NOT_FOR_THE_STACK = (
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CATALOG_DATABASE_URL", "PAYMENTS_DATABASE_URL",
    "CELERY_BROKER_URL", "FIGKIT_VAR_DIR", "FIGKIT_ADMIN_URL", "FIGKIT_ADMIN_TOKEN",
    "FIGKIT_ADMIN_TOKEN_FILE", "CHECKOUT_MODE", "CATALOG_WORKSHOP_BUG",
)  # fmt: skip
# A seeded customer with an address, and the password every seeded customer has.
CUSTOMER = """
import json
from legacy_monolith.accounts.models import Address
from legacy_monolith.core.seeding.people import CUSTOMER_PASSWORD
a = Address.objects.filter(user__is_staff=False).order_by("pk").first()
print(json.dumps({"username": a.user.username, "password": CUSTOMER_PASSWORD, "address_id": a.pk}))
"""


def free_base() -> int:
    """A port base whose five ports (BASE, +1, +100, +200, +300) are all free."""
    return ports.free_base(tuple(OFFSETS.values()))


def eventually(holds: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not holds():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f} s: {what}")
        time.sleep(0.5)


class Shop:
    """Requests through the proxy, as visitors (no cookies kept) and as one customer."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.proxy_url
        self.visitor = httpx.Client(base_url=self.url, timeout=30)
        listed = self.visitor.get("/api/products/", params={"limit": 200}).json()["results"]
        self.slugs = [p["slug"] for p in listed]
        self.expensive = [p["slug"] for p in listed if float(p["price"]) >= 100]

    def get(self, path: str) -> httpx.Response:
        answer = self.visitor.get(path)
        self.visitor.cookies.clear()  # a new visitor each time, as curl would be
        assert answer.status_code < 500, f"GET {path}: {answer.status_code} {answer.text[:200]}"
        return answer

    def browse(self, products: int) -> None:
        """Every catalog route once for each of `products` products (the expensive ones first)."""
        slugs = (self.expensive + self.slugs)[:products]
        paths = [path for slug in slugs
                 for path in ("/api/products/", f"/api/products/{slug}/", "/api/categories/",
                              "/categories/", "/categories/kitchen/", f"/products/{slug}/",
                              "/search/?q=lamp")]  # fmt: skip
        with ThreadPoolExecutor(4) as pool:
            for answer in pool.map(lambda p: httpx.get(self.url + p, timeout=30), paths):
                assert answer.status_code < 500, f"{answer.request.url}: {answer.status_code}"

    def check_out(self, customer: dict) -> dict:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            page = client.get("/account/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token, page.text[:300]
            logged_in = client.post("/account/login/", data={
                "username": customer["username"], "password": customer["password"],
                "csrfmiddlewaretoken": token.group(1)})  # fmt: skip
            assert logged_in.status_code == 302, logged_in.text[:300]
            sku = next(
                v["sku"]
                for slug in self.slugs
                for v in client.get(f"/api/products/{slug}/availability/").json()["variants"]
                if v["available"] > 0
            )
            assert client.post("/api/cart/items/", json={"sku": sku, "quantity": 1}).status_code in (200, 201)  # fmt: skip
            method = client.get("/api/shipping/methods/").json()["results"][0]["id"]
            placed = client.post("/api/checkout/", json={
                "address_id": customer["address_id"], "shipping_method_id": method,
                "card_token": "tok_visa"})  # fmt: skip
            assert placed.status_code == 201, placed.text[:300]
            return placed.json()


def test_each_workshop_step_is_missing_before_it_is_taken_and_holds_after(tmp_path, monkeypatch):
    for key in NOT_FOR_THE_STACK:
        monkeypatch.delenv(key, raising=False)
    base = free_base()
    stack = Stack(tmp_path / "var", port_base=base, name=f"figkit_workshop_{base}")

    def figkit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([FIGKIT, *args], cwd=REPO, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    def workshop(command: str, *args: str) -> subprocess.CompletedProcess:
        return figkit("workshop", command, *args, "--var", str(stack.var_dir), "--port-base", str(base))  # fmt: skip

    down = workshop("check", "1")
    assert down.returncode == 2 and "no stack answers" in down.stderr, down.stderr
    assert len(down.stderr.strip().splitlines()) == 1 and not down.stdout, down.stderr

    stack.prepare()
    stack.start()
    ws = checks.Workshop(stack.var_dir, base)
    admin = httpx.Client(base_url=stack.admin_url, timeout=30,
                         headers={"Authorization": f"Bearer {stack.admin_token}"})  # fmt: skip

    def holds(step: int) -> bool:
        return all(finding.ok for finding in checks.check(ws, step))

    def to_each(method: str, path: str, body: dict, routes=SERVICE_ROUTES) -> None:
        for name in routes:
            answer = admin.request(method, path.format(name=name), json=body)
            assert answer.status_code == 200, answer.text

    def compared(route: str) -> dict:
        return admin.get(f"/api/routes/{route}/diff").json()

    try:
        # 1. The report: missing until the analysis ran; then what `make up` does next.
        before = workshop("check", "1")
        assert before.returncode == 1 and "missing: " in before.stdout, before.stdout
        analysed = figkit("analyze", "legacy_monolith", "--out", str(stack.var_dir / "report"),
                          "--format", "html,json")  # fmt: skip
        assert analysed.returncode == 0, analysed.stderr
        after = workshop("check", "1")
        assert after.returncode == 0, after.stdout
        assert all(line.startswith("ok ") for line in after.stdout.splitlines())
        assert "notifications" in after.stdout  # the plan's own first pick
        import_catalog_routes(stack, stack.var_dir / "report" / "routes", replace=False)
        reset = workshop("reset")
        assert reset.returncode == 0, reset.stderr
        assert "workshop-bug: off -> on" in reset.stdout

        # 2. The catalog service: missing while it does not answer.
        catalog = stack.pid_of("catalog")
        os.kill(catalog, signal.SIGSTOP)
        try:
            assert not holds(2)
        finally:
            os.kill(catalog, signal.SIGCONT)
        eventually(lambda: holds(2), 20, "the catalog service answers again")

        # 3. Backfill.
        assert not holds(3)
        filled = ws.manage("monolith", "backfill", "catalog", "--wait", "60")
        assert filled.returncode == 0, filled.stderr
        eventually(lambda: holds(3), 30, "reconcile finds no difference")

        # 4. Shadow: the API compared as JSON, the pages (the service's own HTML) by status.
        assert not holds(4)
        to_each("POST", "/api/routes/{name}/promote", {"why": "step 4"},
                [r for r in SERVICE_ROUTES if r not in PAGES])  # fmt: skip
        to_each("PATCH", "/api/routes/{name}", {"mode": "shadow", "options": {"shadow": {"ignore": ["$"]}},
                                               "why": "step 4: pages"}, PAGES)  # fmt: skip
        shop = Shop(stack)
        assert shop.expensive, "the seed has products from 100 up, whose detail the bug changes"
        shop.browse(30)
        eventually(lambda: holds(4), 30, "every catalog route compared 25 times")

        # 5. The planted mismatch: in the diff's samples, and in the gate's way.
        assert not holds(5)
        samples = compared(checks.PLANTED_ROUTE)["samples"]
        assert samples and {s["path"] for s in samples} == {"$.price"}, samples
        sample = samples[0]
        assert sample["service"] == str(round(float(sample["monolith"]))), sample
        refused = admin.post(f"/api/routes/{checks.PLANTED_ROUTE}/promote", json={"why": "try"})
        assert refused.status_code == 409 and "mismatch rate" in refused.json()["detail"]
        fixed = ws.manage("catalog", "switch", checks.PLANTED, "off")
        assert fixed.returncode == 0, fixed.stderr
        time.sleep(1.2)  # every process sees a switch within a second
        assert not holds(5), "the figures from before the fix still count"
        admin.post(f"/api/routes/{checks.PLANTED_ROUTE}/diff/reset", json={})
        shop.browse(30)
        eventually(lambda: holds(5), 30, "25 compared without a mismatch")

        # 6. Canary: the gates open now.
        assert not holds(6)
        to_each("POST", "/api/routes/{name}/promote", {"why": "step 6"})
        assert holds(6)

        # 7. Cut over (set-mode, skipping the canary's ladder of gates).
        assert not holds(7)
        to_each("PATCH", "/api/routes/{name}", {"mode": "service", "why": "step 7"})
        assert holds(7)
        assert shop.get("/api/products/").headers["x-figkit-upstream"] == "catalog"

        # 8. The service owns the catalog.
        assert not holds(8)
        flipped = ws.manage("monolith", "flip_ownership", "catalog", "--to", "service",
                            "--reason", "step 8", "--proxy-route", checks.PLANTED_ROUTE)  # fmt: skip
        assert flipped.returncode == 0, flipped.stderr
        assert holds(8)

        # 9. Checkout as a saga.
        assert not holds(9)
        switched = ws.manage("monolith", "switch", "checkout", "saga")
        assert switched.returncode == 0, switched.stderr
        time.sleep(1.2)
        assert not holds(9), "switched, but no checkout since"
        customer = json.loads(ws.manage("monolith", "shell", "-c", CUSTOMER).stdout.strip().splitlines()[-1])  # fmt: skip
        assert shop.check_out(customer)["status"] == "paid"
        assert holds(9)

        # 10. Chaos: a fault on, seen, and off again.
        assert not holds(10)
        route = "api-catalog-product-list"
        fault = {"options": {"fault": {"abort": 503, "percent": 100}}, "why": "step 10"}
        assert admin.patch(f"/api/routes/{route}", json=fault).status_code == 200
        hit = httpx.get(f"{stack.proxy_url}/api/products/", timeout=30)
        assert hit.status_code == 503 and hit.headers["x-figkit-fault"] == "abort"
        assert not holds(10), "the fault is still on"
        off = {"options": {"fault": None}, "why": "step 10: over"}
        assert admin.patch(f"/api/routes/{route}", json=off).status_code == 200
        assert holds(10)
        # ... and the breaker: open while the service does not answer, closed once it does.
        os.kill(catalog, signal.SIGSTOP)
        try:
            for _ in range(6):  # 5 failures open it (proxy.toml); the fallback answers them all
                assert shop.get("/api/categories/").status_code == 200
            eventually(lambda: not holds(10), 10, "the check sees the breaker open")
        finally:
            os.kill(catalog, signal.SIGCONT)
        time.sleep(5)  # open_seconds: then a request may try the service again

        def tried_again() -> bool:
            shop.get("/api/categories/")
            return holds(10)

        eventually(tried_again, 20, "the breaker closed again")

        # 11. Back, and forward again.
        assert not holds(11)
        back = admin.post("/api/rollback", json={"route": "all", "why": "step 11"})
        assert back.status_code == 200, back.text
        assert shop.get("/api/products/").headers["x-figkit-upstream"] == "monolith"
        assert not holds(11), "rolled back, not yet forward again"
        to_each("PATCH", "/api/routes/{name}", {"mode": "service", "why": "step 11: forward"})
        assert holds(11)

        # Reset: back to step 0, where every step after the first three is to take again.
        reset = workshop("reset")
        assert reset.returncode == 0, reset.stderr
        assert "catalog is now owned by monolith" in reset.stdout
        again = workshop("check", "5")
        assert again.returncode == 1, again.stdout
        assert again.stdout.splitlines()[0].startswith("missing: the planted mismatch switched off")
        assert [step for step in range(1, 12) if holds(step)] == [1, 2, 3]
    finally:
        admin.close()
        ws.close()
        stack.stop()
