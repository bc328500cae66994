"""The seam on the embedded defaults, nothing to install: SQLite files for both sides and kombu's
filesystem broker under one FIGKIT_VAR_DIR. The monolith's catalog reaches the service by
backfill, relay and the Celery worker (the production consumer), both ways across a flip."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.extracted.stack import Stack
from tests.extracted.stopping import stop_together


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path)
    with ThreadPoolExecutor(1) as pool:  # one SQLite file each: the two sides side by side
        catalog = pool.submit(stack.manage, "catalog", "migrate", "-v0")
        stack.manage("monolith", "migrate", "-v0")
        stack.manage("monolith", "seed", "--size", "small")
        catalog.result()
    try:
        yield stack
    finally:
        stop_together(stack)


def reconcile(stack: Stack) -> dict:
    return json.loads(
        stack.manage("monolith", "reconcile", "catalog", "--json", check=False).stdout
    )


def until_reconciled(stack: Stack, deadline_s: float = 60) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        for name in list(stack.running):
            stack.alive(name)
        report = reconcile(stack)
        if not report["differences"] or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def test_the_catalog_reaches_the_service_through_a_celery_worker_and_comes_back_after_a_flip(stack):
    with ThreadPoolExecutor(1) as pool:
        serving = pool.submit(stack.serve_catalog)
        stack.serve_monolith()
        serving.result()
    worker = ["-m", "celery", "-A", "extracted.catalog", "worker", "--pool=solo", "-Q", stack.queue("catalog"),
              "--without-gossip", "--without-mingle", "--loglevel=WARNING"]  # fmt: skip
    stack.start("catalog-worker", "catalog", argv=worker)
    stack.start("monolith-relay", "monolith", "relay_outbox")
    out = stack.manage("monolith", "backfill", "catalog", "--wait", "60").stdout
    assert "snapshot event(s) written" in out
    report = until_reconciled(stack)
    assert report["differences"] == [] and report["counts"]["catalog.product"]["there"] >= 100, (
        report
    )
    stack.alive("catalog-worker")

    # The service owns the catalog now: its changes flow back to the monolith.
    stack.start("catalog-relay", "catalog", "relay_outbox")
    stack.start("monolith-consumer", "monolith", "consume")
    flipped = stack.manage("monolith", "flip_ownership", "catalog", "--to", "service").stdout
    assert "now owned by catalog" in flipped
    slug = (
        stack.shell(
            "monolith",
            "from legacy_monolith.catalog.models import Product; print(Product.objects.order_by('pk').first().slug)",
        )
        .strip()
        .splitlines()[-1]
    )
    import httpx

    changed = httpx.patch(
        f"{stack.catalog_url}/api/products/{slug}/",
        json={"name": "Renamed by the service"},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    refused = httpx.patch(
        f"{stack.monolith_url}/api/products/{slug}/",
        json={"name": "Renamed by the monolith"},
        timeout=10,
    )
    assert refused.status_code in (409, 503), "the follower refuses writes"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        name = httpx.get(f"{stack.monolith_url}/api/products/{slug}/", timeout=10).json()["name"]
        if name == "Renamed by the service":
            break
        time.sleep(0.3)
    assert name == "Renamed by the service", "the monolith follows the service's write"

    # A review approved in the monolith after the flip: its rating goes to the owner (a Celery
    # task, run eagerly here) and comes back to the monolith's copy through the seam.
    review = (
        "from legacy_monolith.reviews.models import Review; from legacy_monolith.accounts.models import User; "
        f"from legacy_monolith.catalog.models import Product; p = Product.objects.get(slug={slug!r}); "
        "u = User.objects.exclude(reviews__product=p).first(); "
        "Review.objects.create(product=p, author=u, rating=1, title='t', is_approved=True); "
        "print('expected', Review.objects.filter(product=p, is_approved=True).count())"
    )
    out = stack.manage(
        "monolith", "shell", "-c", review, env={"CELERY_TASK_ALWAYS_EAGER": "1"}
    ).stdout
    expected = int(out.split("expected")[-1].split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        served = httpx.get(f"{stack.catalog_url}/api/products/{slug}/", timeout=10).json()[
            "reviews"
        ]
        followed = httpx.get(f"{stack.monolith_url}/api/products/{slug}/", timeout=10).json()[
            "reviews"
        ]
        if served == followed == expected:
            break
        time.sleep(0.3)
    assert served == followed == expected, "the new review's count reached the owner and came back"
    assert until_reconciled(stack)["differences"] == []
