"""API composition in place of the join of orders with the catalog.

extracted.seam.composition against small real servers on loopback (an asyncio server in a thread
of the test, one behaviour per path); then the monolith's order detail, page and JSON, through
Django's test client with CATALOG_URL at the real catalog service (`python -m extracted.catalog`,
loaded with the same catalog rows as the monolith's, as the seam would leave them), at that
service stopped, and at a catalog that answers late or never.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from extracted.catalog.contract import VariantState
from extracted.seam import composition
from extracted.seam.composition import Breaker, Composer, Timeouts
from tests.extracted import catalog_states as states
from tests.extracted.catalog_service import CatalogService, free_port

# -- a loopback server for the tests -------------------------------------------------------------

Answer = tuple[int, bytes] | None  # None: close the connection without an answer


class LoopbackServer:
    """HTTP/1.1 with keep-alive on 127.0.0.1, run by an event loop in a thread of the test.
    `answer(path)` says what each GET gets; it counts connections, requests, and the most
    requests it held at once."""

    def __init__(self, answer: Callable[[str], Awaitable[Answer]]) -> None:
        self.answer = answer
        self.connections = 0
        self.requests = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        assert self.started.wait(5), "the loopback server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)

    def _run(self) -> None:
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.started.set()
        async with server:
            await self._stop.wait()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                self.requests += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    answer = await self.answer(path)
                finally:
                    self.in_flight -= 1
                if answer is None:
                    return
                status, body = answer
                kind = b"application/json" if body[:1] in (b"{", b"[") else b"text/plain"
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                             % (status, kind, len(body)) + body)  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def behaviours(path: str) -> Answer:
    """/json/NAME, /slow/MS/NAME, /hang, /status/CODE, /text, /drop."""
    _, kind, *rest = path.split("/")
    if kind == "json":
        return 200, b'{"name": "%s"}' % rest[0].encode()
    if kind == "slow":
        await asyncio.sleep(int(rest[0]) / 1000)
        return 200, b'{"name": "%s"}' % rest[1].encode()
    if kind == "hang":
        await asyncio.Event().wait()
    if kind == "status":
        return int(rest[0]), b'{"error": "as asked"}'
    if kind == "text":
        return 200, b"<html>not json</html>"
    return None  # /drop


def delaying(upstream: str, delay_s: float) -> Callable[[str], Awaitable[Answer]]:
    """Answers as `upstream` does, `delay_s` later: a slow catalog in front of the real one."""
    client = httpx.AsyncClient(base_url=upstream, trust_env=False)

    async def answer(path: str) -> Answer:
        await asyncio.sleep(delay_s)
        response = await client.get(path)
        return response.status_code, response.content

    return answer


async def never(path: str) -> Answer:
    await asyncio.Event().wait()
    return None


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(behaviours) as running:
        yield running


def closed_port() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# -- composition.py ------------------------------------------------------------------------------


def test_fetch_gives_each_body_by_its_key_over_kept_alive_connections(server):
    composer = Composer(server.url, Timeouts(total_s=2))
    try:
        for _ in range(20):
            composed = composer.fetch({"a": "/json/a", "b": "/json/b"})
            assert composed.found == {"a": {"name": "a"}, "b": {"name": "b"}}
            assert not composed.partial and composed.missing == ()
    finally:
        composer.close()
    assert server.requests == 40
    assert server.connections <= 2, "the connections are kept and reused"


def test_the_calls_run_in_parallel(server):
    composer = Composer(server.url, Timeouts(total_s=2))
    paths = {f"p{i}": f"/slow/100/p{i}" for i in range(8)}
    started = time.monotonic()
    composed = composer.fetch(paths)
    elapsed = time.monotonic() - started
    composer.close()
    assert len(composed.found) == 8 and not composed.partial
    assert server.most_in_flight == 8
    assert elapsed < 0.4, f"8 calls of 100 ms took {elapsed:.3f} s: they did not overlap"


def test_a_call_past_the_deadline_is_missing_as_a_timeout_and_the_others_still_come(server):
    composer = Composer(server.url, Timeouts(total_s=0.2))
    started = time.monotonic()
    composed = composer.fetch({"fast": "/json/fast", "late": "/slow/1000/late", "never": "/hang"})
    elapsed = time.monotonic() - started
    composer.close()
    assert composed.found == {"fast": {"name": "fast"}}
    assert [(m.key, m.reason) for m in composed.missing] == [
        ("late", composition.TIMEOUT),
        ("never", composition.TIMEOUT),
    ]
    assert 0.19 <= elapsed < 0.2 + 0.15, f"the deadline is 0.2 s; it answered in {elapsed:.3f} s"


def test_each_kind_of_failure_is_named(server):
    composer = Composer(server.url, Timeouts(total_s=2))
    composed = composer.fetch({
        "gone": "/status/404", "broken": "/status/503", "refused": "/status/400",
        "html": "/text", "dropped": "/drop", "ok": "/json/ok",
    })  # fmt: skip
    composer.close()
    reasons = {m.key: m.reason for m in composed.missing}
    assert reasons == {
        "gone": composition.NOT_FOUND,
        "broken": composition.SERVER_ERROR,
        "refused": composition.CLIENT_ERROR,
        "html": composition.BAD_ANSWER,
        "dropped": composition.CONNECTION_BROKEN,
    }
    assert composed.found == {"ok": {"name": "ok"}}
    assert "503" in next(m.detail for m in composed.missing if m.key == "broken")


def test_a_service_that_is_down_is_connection_refused_at_once():
    composer = Composer(closed_port(), Timeouts(total_s=2))
    started = time.monotonic()
    composed = composer.fetch({"a": "/json/a", "b": "/json/b"})
    composer.close()
    assert {m.reason for m in composed.missing} == {composition.CONNECTION_REFUSED}
    assert time.monotonic() - started < 0.5


def test_nothing_to_ask_asks_nothing():
    composer = Composer(closed_port(), Timeouts(total_s=2))
    assert composer.fetch({}) == composition.Composition({})
    assert composer._client is None, "no client, no threads made for nothing"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_failures_in_a_row_then_lets_one_trial_through():
    clock = Clock()
    breaker = Breaker(failures=3, open_s=2.0, clock=clock)
    for _ in range(2):
        breaker.record(False)
    assert breaker.allows()
    breaker.record(True)  # a success in between: the count starts again
    for _ in range(3):
        breaker.record(False)
    assert not breaker.allows()
    clock.now += 2.0
    assert breaker.allows(), "after open_s one caller goes through as a trial"
    assert not breaker.allows(), "and the others wait for it"
    breaker.record(False)
    clock.now += 1.9
    assert not breaker.allows(), "a failed trial keeps it open another open_s"
    clock.now += 0.1
    assert breaker.allows()
    breaker.record(True)
    assert breaker.allows() and breaker.allows(), "a successful trial closes it"


def test_an_open_breaker_answers_at_once_without_asking_and_a_404_is_not_a_failure(server):
    composer = Composer(server.url, Timeouts(total_s=0.2), breaker=Breaker(failures=2, open_s=60))
    for _ in range(3):
        assert composer.fetch({"gone": "/status/404"}).missing[0].reason == composition.NOT_FOUND
    first = composer.fetch({"a": "/hang", "b": "/hang"})
    assert {m.reason for m in first.missing} == {composition.TIMEOUT}
    asked = server.requests
    started = time.monotonic()
    second = composer.fetch({"a": "/json/a"})
    composer.close()
    assert [m.reason for m in second.missing] == [composition.CIRCUIT_OPEN]
    assert time.monotonic() - started < 0.05 and server.requests == asked


# -- the monolith's order detail, join and composition -----------------------------------------


def extra_product(n: int):
    """More products with a variant each, so an order can have many to ask for."""
    return states.product(
        id=200 + n,
        name=f"Pendant Light {n}",
        slug=f"pendant-light-{n}",
        category_id=states.LAMPS.id,
        brand_id=states.NORDLICHT.id if n % 2 else None,
        base_price=Decimal(f"{30 + n}.50"),
        rating_avg=Decimal("4.10"),
        rating_count=n,
        variants=[
            VariantState(
                id=600 + n, sku=f"PND-{n}", price=Decimal(f"{30 + n}.50"), weight_grams=700
            )
        ],
    )


EXTRA = [extra_product(n) for n in range(1, 9)]
PRODUCTS = [*states.PRODUCTS, *EXTRA]
STATES = states.as_json(products=PRODUCTS)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Iterator[CatalogService]:
    """The catalog service holding the same catalogue as the monolith's test database."""
    service = CatalogService(tmp_path_factory.mktemp("catalog") / "var").start()
    try:
        service.probe("load", states=STATES)
        yield service
    finally:
        service.stop()


def load_monolith_catalog() -> None:
    from legacy_monolith.catalog.models import (
        Brand,
        Category,
        DigitalProduct,
        Product,
        ProductVariant,
    )

    for c in states.CATEGORIES:
        Category.objects.create(id=c.id, name=c.name, slug=c.slug, parent_id=c.parent_id)
    for b in states.BRANDS:
        Brand.objects.create(id=b.id, name=b.name, slug=b.slug)
    for p in PRODUCTS:
        fields = p.model_dump(exclude={"tags", "variants", "images", "digital"})
        model = DigitalProduct if p.digital else Product
        product = model.objects.create(**fields, **(p.digital.model_dump() if p.digital else {}))
        for v in p.variants:
            ProductVariant.objects.create(product=product, **v.model_dump())


@pytest.fixture
def shop(db, client, settings):
    """A customer, logged in, with two shipped orders on the catalogue above: SHOWCASE (two
    variants of one product, a digital product, a product no longer active, a line whose variant
    was deleted) and MANY (ten products)."""
    from legacy_monolith.accounts.models import User
    from legacy_monolith.orders.models import Order, OrderLine

    settings.COMPOSITION_BREAKER_OPEN_S = 0  # each test sees every call; one test has the breaker
    # A deadline no loaded CI machine misses: the tests of the 0.3 s deadline set it themselves.
    settings.COMPOSITION_TIMEOUT_S = 5
    load_monolith_catalog()
    customer = User.objects.create_user("ada", email="ada@example.com", password="x")
    client.force_login(customer)

    def order(number: str, variants: list[int | None]) -> None:
        placed = Order.objects.create(
            number=number, customer=customer, status="shipped", total=Decimal("100.00"),
            subtotal=Decimal("100.00"), placed_at=datetime(2026, 5, 1, 12, tzinfo=UTC),
        )  # fmt: skip
        for i, variant in enumerate(variants):
            OrderLine.objects.create(
                order=placed, variant_id=variant, product_name=f"As bought {i}", sku=f"SKU-{i}",
                quantity=1, unit_price=Decimal("10.00"), line_total=Decimal("10.00"),
            )  # fmt: skip

    order("SHOWCASE", [501, 502, 503, 509, None])
    order("MANY", [501, 503, *(600 + n for n in range(1, 9))])
    return client


def read(client, settings, number: str, reads: str, catalog_url: str, **more):
    settings.ORDER_DETAIL_READS = reads
    settings.CATALOG_URL = catalog_url
    for name, value in more.items():
        setattr(settings, name, value)
    started = time.monotonic()
    data = client.get(f"/api/orders/{number}/")
    page = client.get(f"/orders/{number}/")
    return data, page, time.monotonic() - started


def catalog_cells(page) -> list[str]:
    return re.findall(r"<td>(<a href=.*?|<span.*?|)</td></tr>", page.content.decode())


def without_details(data: dict) -> dict:
    """The answer without what differs by where it came from: each missing part's `detail`
    (the join says the product is inactive, the service answered 404)."""
    return {**data, "missing": [{**m, "detail": "..."} for m in data["missing"]]}


def without_csrf(page) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.content.decode())


def test_composition_shows_the_same_catalog_data_as_the_join_on_the_same_rows(
    shop, settings, catalog
):
    for number in ("SHOWCASE", "MANY"):
        joined, joined_page, _ = read(shop, settings, number, "join", catalog.url)
        composed, composed_page, _ = read(shop, settings, number, "compose", catalog.url)
        assert joined.status_code == composed.status_code == 200
        assert without_details(composed.json()) == without_details(joined.json())
        assert without_csrf(composed_page) == without_csrf(joined_page)
    data = composed.json()
    assert not data["partial"] and len(catalog_cells(composed_page)) == 10
    showcase = read(shop, settings, "SHOWCASE", "compose", catalog.url)[0].json()
    lamp_small, lamp_large, guide, old, deleted = (line["catalog"] for line in showcase["lines"])
    assert lamp_large == {
        "slug": "brass-desk-lamp", "name": "Brass Desk Lamp", "url": "/products/brass-desk-lamp/",
        "price": "29.00", "brand": "Lumen", "rating": "4.50",
    }  # fmt: skip
    assert lamp_small["price"] == "19.90" and guide["brand"] is None
    assert old is None and deleted is None
    assert without_details(showcase)["missing"] == [
        {"product": "old-lamp", "skus": ["SKU-3"], "reason": "not_found", "detail": "..."},
    ], "an inactive product is not in the catalog either way; a deleted variant is not asked for"
    assert showcase["lines"][0]["product"] == "As bought 0", "the line's own snapshot stays"


def test_with_the_catalog_service_stopped_the_order_answers_200_and_marks_the_missing_parts(
    shop, settings, tmp_path
):
    service = CatalogService(tmp_path / "var").start()
    try:
        service.probe("load", states=STATES)
        before, _, _ = read(shop, settings, "SHOWCASE", "compose", service.url)
        assert before.status_code == 200 and before.json()["lines"][0]["catalog"] is not None
    finally:
        service.stop()
    data, page, elapsed = read(shop, settings, "SHOWCASE", "compose", service.url)

    assert data.status_code == 200 and page.status_code == 200
    body = data.json()
    assert body["partial"] is True
    assert {(m["product"], m["reason"]) for m in body["missing"]} == {
        ("brass-desk-lamp", "connection_refused"),
        ("light-guide-ebook", "connection_refused"),
        ("old-lamp", "connection_refused"),
    }
    assert [m["skus"] for m in body["missing"] if m["product"] == "brass-desk-lamp"] == [
        ["SKU-0", "SKU-1"]
    ]
    assert [line["catalog"] for line in body["lines"]] == [None] * 5
    assert [line["product"] for line in body["lines"]] == [f"As bought {i}" for i in range(5)]
    assert body["total"] == "100.00" and body["number"] == "SHOWCASE"

    html = page.content.decode()
    assert "Some product details are unavailable right now (connection_refused)" in html
    assert html.count("product details unavailable</span>") == 4
    assert all(f"As bought {i}" in html for i in range(5))
    assert elapsed < 2, "a catalog that is down costs no waiting"


def test_a_catalog_that_never_answers_costs_the_deadline_and_no_more(shop, settings):
    with LoopbackServer(never) as stalled:
        for number in ("SHOWCASE", "MANY"):
            settings.ORDER_DETAIL_READS = "compose"
            settings.CATALOG_URL = stalled.url
            settings.COMPOSITION_TIMEOUT_S = 0.3
            for path in (f"/api/orders/{number}/", f"/orders/{number}/"):
                started = time.monotonic()
                response = shop.get(path)
                elapsed = time.monotonic() - started
                assert response.status_code == 200
                # ten calls, each waiting its own 0.3 s one after another, would take 3 s
                assert 0.3 <= elapsed < 1.0, f"{path} took {elapsed:.3f} s"
            body = shop.get(f"/api/orders/{number}/").json()
            assert body["partial"] and {m["reason"] for m in body["missing"]} == {"timeout"}
            assert "(timeout)" in response.content.decode()


def test_the_catalog_calls_run_in_parallel(shop, settings, catalog):
    joined = read(shop, settings, "MANY", "join", catalog.url)[0].json()
    with LoopbackServer(delaying(catalog.url, 0.1)) as slow:
        read(shop, settings, "MANY", "compose", slow.url, COMPOSITION_TIMEOUT_S=2)  # warm
        settings.ORDER_DETAIL_READS = "compose"
        started = time.monotonic()
        composed = shop.get("/api/orders/MANY/")
        elapsed = time.monotonic() - started
    assert composed.json() == joined, "the ten products all came, as the join shows them"
    assert slow.most_in_flight == 10
    assert elapsed < 0.7, f"ten products 100 ms late each took {elapsed:.3f} s: not in parallel"


def test_after_repeated_timeouts_the_breaker_answers_without_waiting(shop, settings):
    with LoopbackServer(never) as stalled:
        settings.COMPOSITION_BREAKER_OPEN_S = 30
        first, _, _ = read(
            shop, settings, "MANY", "compose", stalled.url, COMPOSITION_TIMEOUT_S=0.3
        )  # ten timeouts
        assert {m["reason"] for m in first.json()["missing"]} == {"timeout"}
        asked = stalled.requests
        started = time.monotonic()
        then = shop.get("/api/orders/MANY/")
        elapsed = time.monotonic() - started
    assert then.status_code == 200
    assert {m["reason"] for m in then.json()["missing"]} == {"circuit_open"}
    assert elapsed < 0.2 and stalled.requests == asked
