"""Steady synthetic traffic through the proxy: shoppers who log in, browse the catalogue, search,
put things in their carts and check out, each with their own session (and so their own canary
cookie), the way the shop's users do.

`Traffic` runs them on a thread of its own until stopped and files every answer under the
phase it was sent in (`traffic.phase = "canary"`), so each phase of the story gets its own
counts and latencies. What a user would call a failure is an error: no answer, a 5xx, or a 4xx
that is not a shop's answer to the user's own request (a card declined, a product sold out).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

THINK_S = 0.05  # a shopper's pause between two requests
CHECKOUT_EVERY = 4  # rounds of browsing between two checkouts of one shopper
TIMEOUT_S = 30.0  # no shopper waits longer for one answer
REFUSALS = {402, 409}  # card declined, sold out: the shop's answers, not failures


class TrafficFailed(Exception):
    """The shoppers could not start or stopped by themselves."""


@dataclass
class Shopper:
    """A customer who logs in and checks out; None in the list is a visitor who only browses,
    with a new session (and so a new canary cookie) every round."""

    username: str
    password: str
    address_id: int


@dataclass
class PhaseFigures:
    requests: int = 0
    errors: int = 0
    refused: int = 0
    checkouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    upstreams: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fallbacks: int = 0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Catalogue:
    """What shoppers pick from: product and category slugs, SKUs to buy, a shipping method."""

    products: list[str]
    categories: list[str]
    skus: list[str]
    shipping_method_id: int
    searches: tuple[str, ...] = ("lamp", "light", "desk", "oak")


class Traffic:
    def __init__(self, base_url: str, shoppers: Sequence[Shopper | None], catalogue: Catalogue):
        self.base_url = base_url.rstrip("/")
        self.shoppers = shoppers
        self.catalogue = catalogue
        self.phase = "start"
        self.figures: dict[str, PhaseFigures] = defaultdict(PhaseFigures)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.logged_in = threading.Event()
        self.failure: BaseException | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        def run() -> None:
            try:
                asyncio.run(self._run())
            except BaseException as exc:  # reported by start() and check()
                self.failure = exc
                self.logged_in.set()

        self._thread = threading.Thread(target=run, name="traffic", daemon=True)
        self._thread.start()
        if not self.logged_in.wait(60):
            raise TrafficFailed("the shoppers could not log in within 60 s")
        self.check()

    def check(self) -> None:
        """Raise TrafficFailed when the traffic stopped by itself."""
        if self.failure is not None:
            raise TrafficFailed(f"the traffic stopped: {self.failure}") from self.failure

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT_S + 5)

    def wait_requests(self, phase: str, count: int, within: float) -> None:
        """Until `phase` has seen `count` answers (or `within` seconds went by)."""
        deadline = time.monotonic() + within
        while self.figures[phase].requests < count and time.monotonic() < deadline:
            time.sleep(0.1)

    # -- the shoppers ----------------------------------------------------------------------
    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        clients = [
            httpx.AsyncClient(
                base_url=self.base_url, timeout=TIMEOUT_S, limits=limits, follow_redirects=False
            )
            for _ in self.shoppers
        ]
        try:
            await asyncio.gather(
                *(self._log_in(c, s) for c, s in zip(clients, self.shoppers, strict=True) if s)
            )
            self.logged_in.set()
            await asyncio.gather(
                *(
                    self._shop(c, s, i)
                    for i, (c, s) in enumerate(zip(clients, self.shoppers, strict=True))
                )
            )
        finally:
            for client in clients:
                await client.aclose()

    async def _log_in(self, client: httpx.AsyncClient, shopper: Shopper) -> None:
        page = await client.get("/account/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or not token:
            raise TrafficFailed(f"the login page answered {page.status_code}")
        done = await client.post(
            "/account/login/",
            data={"username": shopper.username, "password": shopper.password,
                  "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": f"{self.base_url}/account/login/"},
        )  # fmt: skip
        if done.status_code != 302:
            raise TrafficFailed(
                f"{shopper.username} could not log in: HTTP {done.status_code} {_said(done)}"
            )

    async def _shop(self, client: httpx.AsyncClient, shopper: Shopper | None, number: int) -> None:
        rng = random.Random(number * 7919 + 1)
        rounds = 0
        cat = self.catalogue
        while not self._stop.is_set():
            if shopper is None:
                client.cookies.clear()  # a new visitor
            product = rng.choice(cat.products)
            browse = [  # every catalog route once a round, so each reaches its gate's count
                ("GET", "/", None),
                ("GET", "/api/products/", None),
                ("GET", f"/products/{product}/", None),
                ("GET", f"/api/products/{product}/", None),
                ("GET", "/api/categories/", None),
                ("GET", "/categories/", None),
                ("GET", f"/categories/{rng.choice(cat.categories)}/", None),
                ("GET", f"/search/?q={rng.choice(cat.searches)}", None),
            ]
            for method, path, body in browse:
                await self._send(client, method, path, body)
                if self._stop.is_set():
                    return
                await asyncio.sleep(THINK_S)
            rounds += 1
            if shopper is not None and rounds % CHECKOUT_EVERY == number % CHECKOUT_EVERY:
                await self._checkout(client, shopper, rng)

    async def _checkout(
        self, client: httpx.AsyncClient, shopper: Shopper, rng: random.Random
    ) -> None:
        sku = rng.choice(self.catalogue.skus)
        added = await self._send(client, "POST", "/api/cart/items/", {"sku": sku, "quantity": 1})
        if added is None or added.status_code not in (200, 201):
            return
        placed = await self._send(client, "POST", "/api/checkout/", {
            "address_id": shopper.address_id, "shipping_method_id": self.catalogue.shipping_method_id,
            "card_token": "tok_visa",
        }, checkout=True)  # fmt: skip
        if placed is not None and placed.status_code == 201:
            await self._send(client, "GET", f"/api/orders/{placed.json()['number']}/", None)

    async def _send(self, client, method: str, path: str, body, *, checkout: bool = False):
        phase = self.phase
        started = time.monotonic()
        problem, response = None, None
        try:
            response = await client.request(method, path, json=body)
            if response.status_code >= 500 or (
                400 <= response.status_code < 500 and response.status_code not in REFUSALS
            ):
                problem = f"{method} {path}: HTTP {response.status_code} {_said(response)}"
        except httpx.HTTPError as exc:
            problem = f"{method} {path}: {type(exc).__name__} {exc}"
        elapsed_ms = (time.monotonic() - started) * 1000
        with self._lock:
            figures = self.figures[phase]
            figures.requests += 1
            figures.latencies_ms.append(elapsed_ms)
            if problem:
                figures.errors += 1
                if len(figures.error_samples) < 5:
                    figures.error_samples.append(problem)
            elif response is not None:
                if response.status_code in REFUSALS:
                    figures.refused += 1
                elif checkout:
                    figures.checkouts += 1
                figures.upstreams[response.headers.get("x-figkit-upstream", "?")] += 1
                if response.headers.get("x-figkit-fallback"):
                    figures.fallbacks += 1
        return response


def _said(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].replace("\n", " ")
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or "")[:160]
    return ""
