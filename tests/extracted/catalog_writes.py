"""Make N catalog changes in the monolith through its ORM, as its admin and backoffice would:
`python tests/extracted/catalog_writes.py N [--products P] [--seed S] [--until FILE]`. Each change
is its own transaction; with --until it goes on past N until FILE exists, so a test can keep the
stream flowing for as long as its faults take on the machine at hand. Prints `wrote K` when
done."""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("changes", type=int)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--until", type=Path, default=None, metavar="FILE")
    args = parser.parse_args()

    import django

    django.setup()
    from legacy_monolith.catalog.models import Brand, Category, Product, ProductVariant, Tag

    rng = random.Random(args.seed)
    root, _ = Category.objects.get_or_create(slug="lighting", defaults={"name": "Lighting"})
    lamps, _ = Category.objects.get_or_create(
        slug="lamps", defaults={"name": "Lamps", "parent": root}
    )
    brands = [
        Brand.objects.get_or_create(slug=s, defaults={"name": s.title()})[0]
        for s in ("lumen", "north")
    ]
    tags = [Tag.objects.get_or_create(name=n)[0] for n in ("new", "sale", "eco")]
    products = list(Product.objects.filter(slug__startswith="lamp-").order_by("pk"))
    while len(products) < args.products:
        n = len(products)
        product = Product.objects.create(name=f"Lamp {n}", slug=f"lamp-{n}", category=lamps,
                                         brand=brands[n % 2], base_price=Decimal("20.00"))  # fmt: skip
        ProductVariant.objects.create(product=product, sku=f"LAMP-{n}", price=Decimal("20.00"))
        products.append(product)
    for i in itertools.count():
        if i >= args.changes and (args.until is None or args.until.exists()):
            break
        product = rng.choice(products)
        move = rng.random()
        if move < 0.5:
            product.base_price = Decimal(rng.randrange(100, 99900)) / 100
            product.save()
        elif move < 0.7:
            variant = product.variants.first()
            variant.price = Decimal(rng.randrange(100, 99900)) / 100
            variant.save()
        elif move < 0.85:
            product.tags.add(rng.choice(tags))
        elif move < 0.95:
            product.tags.remove(rng.choice(tags))
        else:
            product.name = f"Lamp {product.pk} mk{i}"
            product.save()
    print(f"wrote {i}", flush=True)


if __name__ == "__main__":
    main()
