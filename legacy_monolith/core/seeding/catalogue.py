"""The catalogue: products (some of them downloads, stored through multi-table inheritance),
their variants, images and tags, and the opening stock of everything that has a shelf."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.text import slugify

from legacy_monolith.catalog.models import (
    Category,
    DigitalProduct,
    Product,
    ProductImage,
    ProductVariant,
    Tag,
)
from legacy_monolith.core.seeding.catalogue_data import (
    ADJECTIVES,
    BOOK_PATTERNS,
    DIGITAL_ROOT,
    MODELS,
    OPTIONS,
    PRAISE,
    ROOTS,
    TITLE_WORDS,
    Leaf,
)
from legacy_monolith.core.seeding.stock import StockLedger
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import Item, Pool, World

WINDOW_DAYS = 730


def build(world: World, out: RowWriter) -> None:
    rng, now = world.rng, world.now
    brands, tags = world.brands, world.tags
    leaves = world.categories
    leaf_weights = [_leaf(category).weight for category in leaves]

    products: list[Product] = []
    downloads: list[DigitalProduct] = []
    variants: list[ProductVariant] = []
    images: list[ProductImage] = []
    popularity: dict[int, float] = {}
    for _ in range(world.size.products):
        category = rng.choices(leaves, leaf_weights)[0]
        spec, root = _leaf(category), category.parent.name
        pid = world.next_id(Product)
        name = _name(world, category, spec)
        # Most of the range is older than the two years of orders; the rest arrived since.
        age = (
            rng.uniform(WINDOW_DAYS + 10, 1400)
            if rng.random() < 0.7
            else rng.uniform(1, WINDOW_DAYS)
        )
        created = now - timedelta(days=age)
        brand = rng.choice(brands[:6] if root in ("Books", DIGITAL_ROOT) else brands[6:])
        base = _price(rng.uniform(*spec.price)) if spec.options != "value" else Decimal("10.00")
        product = Product(
            id=pid,
            name=name,
            slug=f"{slugify(name)}-{pid}",
            category_id=category.id,
            brand_id=brand.id,
            description=f"{name} by {brand.name}. {PRAISE[root]} {world.fakers['en_GB'].sentence(nb_words=12)}",
            base_price=base,
            is_active=age < WINDOW_DAYS or rng.random() > 0.04,
            created_at=created,
            updated_at=created + timedelta(days=rng.uniform(0, min(age, 200))),
        )
        products.append(product)
        popularity[pid] = rng.lognormvariate(0, 1.1)
        world.quality[pid] = rng.gauss(0, 0.7)
        digital = root == DIGITAL_ROOT
        if digital:
            downloads.append(
                DigitalProduct(
                    product_ptr_id=pid,
                    download_url=f"https://downloads.legacy-shop.example/{pid}",
                    license_key_required=category.name == "Gift Cards",
                )
            )
        for number, (label, factor) in enumerate(_options(rng, spec.options), 1):
            variant = ProductVariant(
                id=world.next_id(ProductVariant),
                product_id=pid,
                sku=f"{root[:3].upper()}-{pid:05d}-{number:02d}",
                name=label,
                price=base
                if spec.options == "value" and factor == 1
                else _price(float(base) * factor),
                weight_grams=int(rng.uniform(*spec.grams) * factor),
                attributes={spec.options: label} if label else {},
            )
            variants.append(variant)
            on_sale = created + timedelta(days=1)
            world.items.append(Item(variant, product, category.id, digital, on_sale))
        for position in range(rng.randint(1, 4)):
            images.append(
                ProductImage(
                    product_id=pid,
                    url=f"/media/products/{pid}/{position + 1}.jpg",
                    alt=f"{name}, view {position + 1}",
                    position=position,
                )
            )

    out.write(Product, products)
    out.write_children(DigitalProduct, downloads)
    out.write(ProductVariant, variants)
    out.write(ProductImage, images)
    out.write(Product.tags.through, _tag_links(world, products, popularity, tags))

    siblings = Counter(variant.product_id for variant in variants)
    world.item_pool = Pool(
        [
            (item.on_sale_from, popularity[item.product.id] / siblings[item.product.id], item)
            for item in world.items
        ]
    )
    _open_stock(world, popularity)


def _leaf(category: Category) -> Leaf:
    return ROOTS[category.parent.name][category.name]


def _name(world: World, category: Category, spec: Leaf) -> str:
    rng = world.rng
    if spec.nouns:
        noun = rng.choice(spec.nouns)
        return (
            noun
            if category.name == "Gift Cards"
            else f"{rng.choice(ADJECTIVES)} {noun}{rng.choice(MODELS)}"
        )
    pattern = rng.choice(BOOK_PATTERNS[category.name])
    title = pattern.format(
        a=rng.choice(TITLE_WORDS[0]),
        n=rng.choice(TITLE_WORDS[1]),
        city=world.fakers["en_GB"].city(),
    )
    suffix = {"E-books": " (e-book)", "Audiobooks": " (audiobook)"}.get(category.name, "")
    return f"{title}{suffix}"


def _price(euros: float) -> Decimal:
    """Shop prices end in .99 or .49."""
    whole = max(int(euros), 1)
    return Decimal(whole) + (Decimal("0.49") if whole < 5 else Decimal("0.99"))


def _options(rng: random.Random, kind: str) -> list[tuple[str, float]]:
    labels, (low, high), factors = OPTIONS[kind]
    count = rng.randint(low, min(high, len(labels)))
    if kind in ("size", "shoe"):  # a run of neighbouring sizes
        start = rng.randint(0, len(labels) - count)
        chosen = list(range(start, start + count))
    else:
        chosen = sorted(rng.sample(range(len(labels)), count))
    return [(labels[i], factors[i] if factors else 1.0) for i in chosen]


def _tag_links(
    world: World, products: list[Product], popularity: dict[int, float], tags: dict[str, Tag]
) -> list:
    rng, through = world.rng, Product.tags.through
    ranked = sorted(popularity, key=popularity.__getitem__, reverse=True)
    bestsellers = set(ranked[: max(1, len(ranked) // 20)])
    ordinary = [tag for name, tag in tags.items() if name not in ("bestseller", "new")]
    links = []
    for product in products:
        chosen = rng.sample(ordinary, rng.choice([0, 0, 1, 1, 2, 3]))
        if product.id in bestsellers:
            chosen.append(tags["bestseller"])
        if product.created_at > world.now - timedelta(days=120):
            chosen.append(tags["new"])
        links += [through(product_id=product.id, tag_id=tag.id) for tag in chosen]
    return links


def _open_stock(world: World, popularity: dict[int, float]) -> None:
    """Every physical variant sits in one to three of the warehouses from the day it went on sale."""
    ledger = StockLedger(world.rng, world.supplier_names, settings.SHOP_LOW_STOCK_THRESHOLD)
    for item in world.items:
        if item.digital:
            continue
        count = world.rng.choices([1, 2, 3], [30, 40, 30])[0]
        warehouses = world.rng.sample(world.warehouses, count)
        ledger.open(
            item.variant.id,
            warehouses,
            item.on_sale_from - timedelta(hours=6),
            popular=popularity[item.product.id] > 1.5,
        )
    world.ledger = ledger
