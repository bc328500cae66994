"""The catalog service against its contract: what the seam writes reads back the same, and its
HTTP API answers byte for byte as the monolith's does for the same rows.

The service runs as a real process (uvicorn on loopback, its own SQLite file); the monolith's
answers come from its views through Django's test client, on the same rows made with its ORM.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from django.test import Client

from extracted.catalog import contract
from tests import services
from tests.extracted import catalog_states as states
from tests.extracted.catalog_service import (
    REPO,
    CatalogService,
    drop_postgres_database,
    postgres_database,
    probe,
    service_env,
)

# The catalog service


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Iterator[CatalogService]:
    """One service for the module, holding the states of catalog_states as the seam left them."""
    service = CatalogService(tmp_path_factory.mktemp("catalog") / "var").start()
    try:
        service.probe("load", states=states.as_json())
        yield service
    finally:
        service.stop()


@pytest.fixture
def catalog_owned(catalog: CatalogService) -> Iterator[CatalogService]:
    """The service owns the catalog (as after a flip) for one test; then follows again, with
    the states restored."""
    catalog.probe("role", "owner", "1")
    yield catalog
    catalog.probe("role", "follower", "2")
    catalog.probe("load", states=states.as_json())


# The monolith, on the same rows


@pytest.fixture
def monolith(db) -> Client:
    """The monolith's test client (CSRF enforced, as for a real client) over the same states."""
    from legacy_monolith.catalog.models import (
        Brand,
        Category,
        DigitalProduct,
        Product,
        ProductImage,
        ProductVariant,
        Tag,
    )

    for c in states.CATEGORIES:
        Category.objects.create(id=c.id, name=c.name, slug=c.slug, parent_id=c.parent_id)
    for b in states.BRANDS:
        Brand.objects.create(id=b.id, name=b.name, slug=b.slug)
    for p in states.PRODUCTS:
        fields = p.model_dump(exclude={"tags", "variants", "images", "digital"})
        if p.digital:
            product = DigitalProduct.objects.create(**fields, **p.digital.model_dump())
        else:
            product = Product.objects.create(**fields)
        for v in p.variants:
            ProductVariant.objects.create(product=product, **v.model_dump())
        for i in p.images:
            ProductImage.objects.create(product=product, **i.model_dump())
        product.tags.set([Tag.objects.get_or_create(name=name)[0] for name in p.tags])
    return Client(enforce_csrf_checks=True)


def assert_same_answer(ours: httpx.Response, theirs, what: str) -> None:
    assert ours.status_code == theirs.status_code, what
    if theirs.get("Content-Type", "").startswith("application/json"):
        assert ours.json() == json.loads(theirs.content), what
    assert ours.content == theirs.content, what
    for header in ("Content-Type", "Allow", "Location"):
        assert ours.headers.get(header) == theirs.get(header), f"{what}: {header}"


# Domain: what the seam applies reads back exactly

DESK_LAMP_CHANGED = states.DESK_LAMP.model_copy(
    update={
        "name": "Brass Desk Lamp (2nd edition)",
        "base_price": Decimal("21.00"),
        "tags": ["brass", "new"],
        "variants": [
            contract.VariantState(
                id=502, sku="LMP-BR-L", name="Large", price=Decimal("31.50"), weight_grams=1250
            ),
            contract.VariantState(
                id=504, sku="LMP-BR-XL", name="XL", price=Decimal("39.90"), weight_grams=1600
            ),
        ],
        "images": [contract.ImageState(url="/img/lamp-3.jpg", alt="side", position=0)],
    }
)
GUIDE_NO_LONGER_DIGITAL = states.GUIDE.model_copy(update={"digital": None, "variants": []})


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_domain_apply_then_state_gives_back_each_state_byte_for_byte(tmp_path, database):
    env = service_env(tmp_path / "var")
    if database == "postgresql":
        url = postgres_database(services.require(services.POSTGRES), "figkit_catalog")
        env["CATALOG_DATABASE_URL"] = url
    try:
        products = [*states.PRODUCTS, DESK_LAMP_CHANGED, GUIDE_NO_LONGER_DIGITAL]
        report = probe(env, "roundtrip", states=states.as_json(products=products))
    finally:
        if database == "postgresql":
            drop_postgres_database(url)
    assert report["mismatches"] == []
    assert report["checked"] == 2 * (len(states.CATEGORIES) + len(states.BRANDS) + len(products))
    assert report["keys"] == {
        "catalog.category": [10, 11],
        "catalog.brand": [3, 7],
        "catalog.product": [101, 102, 105, 109],
    }
    assert report["absent"] == "null"


# HTTP: the same answers as the monolith

READS = [
    "/api/products/",
    "/api/products/?category=lighting",  # the parent: its own products and its children's
    "/api/products/?category=lamps",
    "/api/products/?category=nothing-here",
    "/api/products/?category=",
    "/api/products/?q=lamp",
    "/api/products/?q=LICHT",
    "/api/products/?q=LAMP&category=lamps",
    "/api/products/?limit=1&offset=1",
    "/api/products/?limit=many&offset=-4",
    "/api/products/?limit=0",
    "/api/products/?limit=1000&offset=2",
    "/api/products/?offset=1.5",
    "/api/products/?limit=&offset=&q=",
    "/api/products/?offset=10",
    "/api/products/brass-desk-lamp/",
    "/api/products/light-guide-ebook/",
    "/api/products/floor-lamp/",
    "/api/products/old-lamp/",  # inactive: 404
    "/api/products/no-such-thing/",
    "/api/categories/",
    "/api/products",  # no slash: the same redirect
]


@pytest.mark.parametrize("path", READS)
def test_service_answers_each_read_as_the_monolith_does(catalog, monolith, path):
    assert_same_answer(catalog.request("GET", path), monolith.get(path), path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/products/"),
        ("HEAD", "/api/products/"),
        ("PUT", "/api/categories/"),
        ("DELETE", "/api/products/brass-desk-lamp/"),
        ("POST", "/api/products/brass-desk-lamp/"),
    ],
)
def test_a_method_a_route_lacks_is_405_as_on_the_monolith(catalog, monolith, method, path):
    theirs = monolith.generic(method, path)
    assert theirs.status_code == 405
    assert_same_answer(catalog.request(method, path), theirs, f"{method} {path}")


BAD_BODIES = [
    b"not json",
    b"[1, 2]",
    b'{"colour": "red"}',
    b'{"base_price": 19.9}',
    b'{"base_price": "abc"}',
    b'{"base_price": "1.234"}',
    b'{"base_price": "-1.00"}',
    b'{"name": ""}',
    b'{"name": null}',
    b'{"is_active": "yes"}',
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[b.decode() for b in BAD_BODIES])
def test_a_bad_patch_body_is_a_one_line_400_as_on_the_monolith(catalog, monolith, body):
    path = "/api/products/brass-desk-lamp/"
    ours = catalog.request("PATCH", path, content=body)
    theirs = monolith.patch(path, data=body, content_type="application/json")
    assert ours.status_code == 400
    error = ours.json()["error"]
    assert error and "\n" not in error
    assert_same_answer(ours, theirs, body.decode())


def test_patch_changes_the_product_as_on_the_monolith_and_the_seam_sees_it(catalog_owned, monolith):
    path = "/api/products/brass-desk-lamp/"
    body = {"name": "Brass Desk Lamp, Mk II", "base_price": "24.5", "description": "Brighter."}
    ours = catalog_owned.request("PATCH", path, json=body)
    theirs = monolith.patch(path, data=json.dumps(body), content_type="application/json")
    assert ours.status_code == 200, ours.text
    assert ours.json()["price"] == "24.50"
    assert ours.json()["name"] == "Brass Desk Lamp, Mk II"
    assert_same_answer(ours, theirs, "PATCH")
    assert_same_answer(catalog_owned.request("GET", path), monolith.get(path), "GET after")

    read = catalog_owned.probe("state", str(states.DESK_LAMP.id))
    assert read["state"]["base_price"] == "24.50"
    stamped = contract.ProductState.model_validate(read["state"])
    assert stamped.updated_at > states.DESK_LAMP.updated_at  # set by the write
    assert stamped.created_at == states.DESK_LAMP.created_at
    # Saved through the model: the seam captured it, with the whole new state.
    assert read["events"][-1] == read["state"]

    # Deactivated, it is gone from reads; a PATCH finds it again and brings it back.
    off = catalog_owned.request("PATCH", path, json={"is_active": False})
    assert off.status_code == 200 and off.json()["name"] == "Brass Desk Lamp, Mk II"
    assert catalog_owned.request("GET", path).status_code == 404
    assert catalog_owned.request("PATCH", path, json={"is_active": True}).status_code == 200
    assert catalog_owned.request("GET", path).status_code == 200

    missing = catalog_owned.request("PATCH", "/api/products/no-such-thing/", json={"name": "x"})
    assert (missing.status_code, missing.json()) == (404, {"error": "no product 'no-such-thing'"})


def test_patch_while_the_monolith_owns_the_catalog_is_refused_with_409(catalog):
    path = "/api/products/floor-lamp/"
    refused = catalog.request("PATCH", path, json={"base_price": "1.00"})
    assert refused.status_code == 409
    assert "monolith" in refused.json()["error"]
    assert catalog.request("GET", path).json()["price"] == "149.00"


# Operations: health, readiness, OpenAPI, start-up


def test_healthz_says_ok(catalog):
    answer = catalog.request("GET", "/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_with_its_database_migrated_and_its_broker_reachable(catalog):
    answer = catalog.request("GET", "/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }


def test_readyz_is_503_naming_the_broker_when_the_broker_is_down(catalog):
    down = CatalogService(catalog.var_dir, {"CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}).start()
    try:
        answer = down.request("GET", "/readyz")
    finally:
        down.stop()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready" and body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    reason = body["checks"]["broker"]
    assert "127.0.0.1:1" in reason and "\n" not in reason
    assert answer.elapsed.total_seconds() < 5


def test_a_check_that_hangs_is_reported_at_its_timeout_and_not_waited_for():
    from extracted.catalog.health import run_checks

    def hangs() -> None:
        time.sleep(5)

    started = time.monotonic()
    results = run_checks({"fast": lambda: None, "hung": hangs, "broken": lambda: 1 / 0}, 0.3)
    assert time.monotonic() - started < 1.5
    assert results == {
        "fast": "ok",
        "hung": "no answer within 0.3 s",
        "broken": "ZeroDivisionError: division by zero",
    }


def test_openapi_describes_the_routes(catalog):
    schema = catalog.request("GET", "/api/openapi.json").json()
    assert set(schema["paths"]["/api/products/"]) == {"get"}
    assert set(schema["paths"]["/api/products/{slug}/"]) == {"get", "patch"}
    assert set(schema["paths"]["/api/categories/"]) == {"get"}
    patch = schema["paths"]["/api/products/{slug}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {
        "name",
        "description",
        "base_price",
        "is_active",
        "rating_avg",
        "rating_count",
    }
    docs = catalog.request("GET", "/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def test_pages_show_the_catalogue_and_send_reviews_to_the_shop(catalog):
    assert "Lamps &amp; Shades" in catalog.request("GET", "/categories/").text
    lamps = catalog.request("GET", "/categories/lighting/").text
    assert "Brass Desk Lamp" in lamps and "Old Lamp" not in lamps
    product = catalog.request("GET", "/products/brass-desk-lamp/").text
    assert "19.90 EUR" in product and "Reviews are on the shop" in product
    assert "Lichtführer" in catalog.request("GET", "/search?q=licht").text
    assert catalog.request("GET", "/products/old-lamp/").status_code == 404


def test_start_prints_its_url_openapi_page_and_database(catalog, tmp_path):
    service = CatalogService(tmp_path / "var").start()
    out = service.stop()
    assert f"{service.url}/" in out
    assert f"{service.url}/api/docs" in out
    assert str(tmp_path / "var" / "catalog.sqlite3") in out


def test_a_busy_port_is_one_line_and_exit_2_before_anything_is_written(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "extracted.catalog", "--port", str(port)],
            cwd=REPO,
            env=service_env(tmp_path / "var"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "already in use" in result.stderr
    assert not (tmp_path / "var" / "catalog.sqlite3").exists()
