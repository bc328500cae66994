"""Two processes change one product at once on PostgreSQL, one through its variant and one
through the product itself: every event the outbox holds for it has its own version, and the
newest carries the product as it was last committed (publish() locks the version row before it
reads the state; reading first, the newer version could carry the older state, and a follower
would keep it)."""

from __future__ import annotations

import json
from decimal import Decimal

from tests import services
from tests.extracted.stack import Stack, drop_postgres_database, postgres_database

SETUP = """
from decimal import Decimal
from legacy_monolith.catalog.models import Category, Product, ProductVariant
lamps = Category.objects.create(name="Lamps", slug="lamps")
product = Product.objects.create(name="Race Lamp", slug="race-lamp", category=lamps, base_price=Decimal("10.00"))
ProductVariant.objects.create(product=product, sku="RACE-1", price=Decimal("10.00"))
print(product.pk)
"""

WRITER = """
from decimal import Decimal
from legacy_monolith.catalog.models import Product, ProductVariant
for n in range(150):
    if {through_variant}:
        variant = ProductVariant.objects.get(sku="RACE-1")
        variant.price = Decimal(100 + n)
        variant.save()
    else:
        product = Product.objects.get(slug="race-lamp")
        product.base_price = Decimal(200 + n)
        product.save()
"""

FINAL = """
import json
from extracted.seam.models import OutboxEvent
from legacy_monolith.catalog.seam import CATALOG
product = CATALOG.aggregate("catalog.product")
key = {key}
events = list(OutboxEvent.objects.filter(aggregate_type="catalog.product", aggregate_id=str(key)).order_by("version"))
print(json.dumps({{
    "versions": [e.version for e in events],
    "prices": [[e.payload["base_price"], e.payload["variants"][0]["price"]] for e in events if e.payload and e.payload["variants"]],
    "newest": events[-1].payload,
    "now": product.type.validate(product.state(key)).model_dump(mode="json"),
}}))
"""


def test_two_writers_of_one_product_leave_events_in_commit_order_each_with_what_was_committed(tmp_path):
    stack = Stack(tmp_path, monolith_db=postgres_database(services.require(services.POSTGRES), "figkit_race"))
    try:
        stack.manage("monolith", "migrate", "-v0")
        key = int(stack.shell("monolith", SETUP).strip().splitlines()[-1])
        for name, through_variant in (("variant-writer", True), ("product-writer", False)):
            stack.start(name, "monolith", "shell", "-c", WRITER.format(through_variant=through_variant))
        for name in ("variant-writer", "product-writer"):
            assert stack.running[name].wait(timeout=300) == 0, stack.log(name)
        seen = json.loads(stack.shell("monolith", FINAL.format(key=key)).strip().splitlines()[-1])
    finally:
        stack.stop_all()
        drop_postgres_database(stack.monolith_db)
    versions = seen["versions"]
    assert versions == list(range(1, len(versions) + 1)), "each version once, none skipped"
    assert len(versions) >= 301  # created, its variant, 300 changes
    assert seen["newest"] == seen["now"]
    # Each writer only raises its price: in version order no event may carry an older price
    # than the one before it (a version given before the state was read could).
    product_prices = [Decimal(p) for p, _ in seen["prices"]]
    variant_prices = [Decimal(v) for _, v in seen["prices"]]
    assert product_prices == sorted(product_prices), "a newer version carries an older product price"
    assert variant_prices == sorted(variant_prices), "a newer version carries an older variant price"
