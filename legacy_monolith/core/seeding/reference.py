"""Reference data: settings, mail templates, warehouses, carriers, categories, brands, tags,
promotions and their coupons."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.text import slugify

from legacy_monolith.catalog.models import Brand, Category, Tag
from legacy_monolith.core.models import SiteSetting
from legacy_monolith.core.seeding.catalogue_data import ROOTS
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import Method, World
from legacy_monolith.inventory.models import Supplier, Warehouse
from legacy_monolith.notifications.models import EmailTemplate
from legacy_monolith.promotions.models import Coupon, Promotion
from legacy_monolith.shipping.models import Carrier, ShippingMethod

SITE_SETTINGS = {
    "shop_name": "Legacy Shop",
    "support_email": "help@legacy-shop.example",
    "banner_text": "Free shipping on orders over 75 EUR",
    "returns_window_days": "30",
    "checkout_enabled": "on",
    "maintenance_mode": "off",
}
# The keys the code asks for (notifications.receivers) and two the marketing team added.
EMAIL_TEMPLATES = {
    "order-confirmation": (
        "Your order {{ order }}",
        "Thank you for your order {{ order }}.\nTotal: {{ total }} EUR.",
    ),
    "order-shipped": (
        "Order {{ order }} is on its way",
        "Good news: your order {{ order }} has shipped.",
    ),
    "order-cancelled": ("Order {{ order }} was cancelled", "Your order {{ order }} was cancelled."),
    "order-refunded": (
        "Order {{ order }} was refunded",
        "We have refunded your order {{ order }}.",
    ),
    "low-stock": (
        "Low stock: {{ sku }} in {{ warehouse }}",
        "{{ sku }} in {{ warehouse }}: {{ available }} left.",
    ),
    "welcome": ("Welcome to Legacy Shop", "Hello {{ name }}, thanks for signing up."),
    "back-in-stock": ("{{ product }} is back", "{{ product }} is back in stock."),
}
WAREHOUSES = [
    ("BER", "Berlin Central", "Berlin"),
    ("HAM", "Hamburg North", "Hamburg"),
    ("MUC", "Munich South", "Munich"),
]
CARRIERS = {
    "DHL": "https://www.dhl.example/track?piececode={number}",
    "DPD": "https://tracking.dpd.example/parcel/{number}",
    "Hermes": "https://www.myhermes.example/track/{number}",
    "GLS": "https://gls-group.example/track/{number}",
}
# carrier, name, code, price, eta days, max weight (g), share of orders, retired days ago
METHODS = [
    ("DHL", "Standard", "dhl-standard", "4.90", 2, 31_500, 40, None),
    ("DHL", "Express", "dhl-express", "12.90", 1, 20_000, 8, None),
    ("DPD", "Classic", "dpd-classic", "4.50", 2, 31_500, 22, None),
    ("Hermes", "Economy", "hermes-economy", "3.90", 4, 25_000, 15, None),
    (
        "GLS",
        "Parcel",
        "gls-parcel",
        "4.20",
        3,
        40_000,
        15,
        420,
    ),  # dropped last year; old orders keep it
]
TAGS = [
    "bestseller",
    "new",
    "eco",
    "gift",
    "sale",
    "handmade",
    "limited",
    "bundle",
    "vegan",
    "local",
]
BRAND_SUFFIXES = ["& Co", "& Sons", "Works", "Werkstatt", "Studio", "Goods", "Supply"]
PUBLISHER_SUFFIXES = ["Press", "Books", "Verlag"]
SEASONS = {
    1: "New Year Sale",
    2: "Winter Clearance",
    3: "Spring Sale",
    4: "Easter Deals",
    5: "May Days",
    6: "Summer Sale",
    7: "Summer Sale",
    8: "Back to School",
    9: "Autumn Sale",
    10: "Harvest Week",
    11: "Black Week",
    12: "Christmas Sale",
}


def build(world: World, out: RowWriter) -> None:
    out.write(
        SiteSetting,
        [
            SiteSetting(id=world.next_id(SiteSetting), key=k, value=v)
            for k, v in SITE_SETTINGS.items()
        ],
    )
    templates = [
        EmailTemplate(id=world.next_id(EmailTemplate), key=key, subject=subject, body=body)
        for key, (subject, body) in EMAIL_TEMPLATES.items()
    ]
    out.write(EmailTemplate, templates)
    world.template_ids = {template.key: template.id for template in templates}
    _warehouses(world, out)
    _shipping(world, out)
    _catalogue_frame(world, out)
    _promotions(world, out)


def _warehouses(world: World, out: RowWriter) -> None:
    world.warehouses = [
        Warehouse(id=world.next_id(Warehouse), code=code, name=name, city=city)
        for code, name, city in WAREHOUSES
    ]
    out.write(Warehouse, world.warehouses)
    suppliers = []
    for warehouse in world.warehouses:
        name = world.fakers["de_DE"].company()
        suppliers.append(
            Supplier(
                id=world.next_id(Supplier),
                name=name,
                warehouse=warehouse,
                last_synced_at=world.now - timedelta(minutes=world.rng.randint(1, 15)),
                created_at=world.now - timedelta(days=1400),
            )
        )
        world.supplier_names[warehouse.id] = name
    out.write(Supplier, suppliers)


def _shipping(world: World, out: RowWriter) -> None:
    carriers = {
        name: Carrier(id=world.next_id(Carrier), name=name, tracking_url=url)
        for name, url in CARRIERS.items()
    }
    out.write(Carrier, list(carriers.values()))
    for carrier, name, code, price, eta, max_weight, share, retired in METHODS:
        method = ShippingMethod(
            id=world.next_id(ShippingMethod),
            carrier=carriers[carrier],
            name=name,
            code=code,
            price=Decimal(price),
            eta_days=eta,
            max_weight_grams=max_weight,
            is_active=retired is None,
        )
        retired_at = world.now - timedelta(days=retired) if retired else None
        world.methods.append(
            Method(model=method, carrier=carrier, weight=share, retired_at=retired_at)
        )
    out.write(ShippingMethod, [method.model for method in world.methods])


def _catalogue_frame(world: World, out: RowWriter) -> None:
    roots, leaves = [], []
    for root_name, children in ROOTS.items():
        root = Category(id=world.next_id(Category), name=root_name, slug=slugify(root_name))
        roots.append(root)
        for leaf_name in children:
            leaves.append(
                Category(
                    id=world.next_id(Category),
                    name=leaf_name,
                    slug=slugify(f"{root_name} {leaf_name}"),
                    parent=root,
                )
            )
    out.write(Category, roots + leaves)
    world.categories = leaves

    fake, names = world.fakers["de_DE"], {}
    while len(names) < 30:
        suffixes = PUBLISHER_SUFFIXES if len(names) < 6 else BRAND_SUFFIXES
        name = f"{fake.last_name()} {world.rng.choice(suffixes)}"
        slug = slugify(name)
        if name not in names and slug not in names.values():
            names[name] = slug
    world.brands = [
        Brand(id=world.next_id(Brand), name=name, slug=slug) for name, slug in names.items()
    ]
    out.write(Brand, world.brands)
    world.tags = {name: Tag(id=world.next_id(Tag), name=name) for name in TAGS}
    out.write(Tag, list(world.tags.values()))


def _promotions(world: World, out: RowWriter) -> None:
    """A standing welcome voucher, a seasonal promotion every couple of months over the last two
    years, and one running today, so the demo has a coupon that works."""
    rng, now = world.rng, world.now
    plans: list[tuple[str, str, Decimal, Decimal, datetime, datetime]] = [
        (
            "Welcome voucher",
            Promotion.Kind.FIXED,
            Decimal("5.00"),
            Decimal("25.00"),
            now - timedelta(days=1200),
            now + timedelta(days=365),
        ),
    ]
    start = now - timedelta(days=740)
    while True:
        start += timedelta(days=rng.randint(35, 75))
        end = start + timedelta(days=rng.randint(7, 28))
        if end >= now - timedelta(days=10):
            break
        plans.append(_seasonal(rng, start, end))
    plans.append(_seasonal(rng, now - timedelta(days=6), now + timedelta(days=rng.randint(10, 30))))

    roots = sorted({leaf.parent_id for leaf in world.categories})
    through, links = Promotion.categories.through, []
    for name, kind, value, minimum, starts, ends in plans:
        promotion = Promotion(
            id=world.next_id(Promotion),
            name=name,
            kind=kind,
            value=value,
            min_order_total=minimum,
            starts_at=starts,
            ends_at=ends,
        )
        world.promotions.append(promotion)
        if kind == Promotion.Kind.PERCENT and name != "Welcome voucher":
            links += [
                through(promotion_id=promotion.id, category_id=category_id)
                for category_id in rng.sample(roots, rng.randint(1, 3))
            ]
    out.write(Promotion, world.promotions)
    out.write(through, links)

    codes: set[str] = set()
    for promotion in world.promotions:
        stem = (
            "WELCOME"
            if promotion.name == "Welcome voucher"
            else slugify(promotion.name).replace("-", "").upper()
        )
        for variant in range(1 if promotion.name == "Welcome voucher" else rng.randint(1, 2)):
            code = (
                f"{stem}{int(promotion.value)}"
                if variant == 0
                else f"{stem}VIP{int(promotion.value)}"
            )
            while code in codes:
                code += "X"
            codes.add(code)
            limited = variant == 1 or rng.random() < 0.2
            ended = promotion.ends_at < now
            world.coupons.append(
                Coupon(
                    id=world.next_id(Coupon),
                    code=code,
                    promotion=promotion,
                    max_uses=max(5, world.size.orders // 150) if limited else 0,
                    is_active=not (ended and rng.random() < 0.5),
                )
            )
    out.write(Coupon, world.coupons)


def _seasonal(
    rng: random.Random, start: datetime, end: datetime
) -> tuple[str, str, Decimal, Decimal, datetime, datetime]:
    name = f"{SEASONS[start.month]} {start.year}"
    if rng.random() < 0.7:
        return (
            name,
            Promotion.Kind.PERCENT,
            Decimal(rng.choice([10, 15, 20, 25])),
            Decimal(rng.choice([0, 30])),
            start,
            end,
        )
    return (
        name,
        Promotion.Kind.FIXED,
        Decimal(rng.choice([10, 15])),
        Decimal(rng.choice([50, 75])),
        start,
        end,
    )
