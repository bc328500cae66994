"""Believable shop data, built in memory and written with bulk inserts.

Every row gets its primary key here, so related rows are built without reading ids back; the
whole seed is one transaction. Signals do not fire on bulk inserts, so rows that receivers
would create (profiles, preferences, ratings) are built explicitly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker

from legacy_monolith.accounts.models import Address, CustomerProfile, User
from legacy_monolith.cart.models import Cart, CartItem, Wishlist
from legacy_monolith.catalog.models import (
    Brand,
    Category,
    DigitalProduct,
    Product,
    ProductImage,
    ProductVariant,
    Tag,
)
from legacy_monolith.core.models import SiteSetting
from legacy_monolith.core.utils import money
from legacy_monolith.inventory.models import StockItem, StockMovement, Supplier, Warehouse
from legacy_monolith.notifications.models import EmailTemplate, Notification, NotificationPreference
from legacy_monolith.orders.models import Order, OrderLine, OrderStatusEvent, ReturnRequest
from legacy_monolith.payments.models import Invoice, Payment, Refund
from legacy_monolith.promotions.models import Coupon, CouponRedemption, Promotion
from legacy_monolith.reporting.models import DailySalesSnapshot
from legacy_monolith.reviews.models import Review, ReviewVote
from legacy_monolith.shipping.models import Carrier, Shipment, ShippingMethod, TrackingEvent


@dataclass(frozen=True)
class Size:
    customers: int
    products: int
    orders: int


SIZES = {
    "small": Size(customers=50, products=120, orders=300),
    "large": Size(customers=5_000, products=2_000, orders=36_000),
}

CUSTOMER_PASSWORD = "shop-demo-123"
BATCH = 2_000
FREE_SHIPPING_OVER = Decimal("75.00")

CATEGORIES = {
    "Kitchen": ["Kettles", "Pans", "Knives", "Coffee"],
    "Books": ["Fiction", "History", "Cooking", "Science"],
    "Garden": ["Tools", "Seeds", "Furniture"],
    "Toys": ["Puzzles", "Board Games", "Outdoor"],
    "Electronics": ["Headphones", "Chargers", "Lamps"],
    "Clothing": ["Shirts", "Jackets", "Socks"],
    "Sports": ["Running", "Cycling", "Yoga"],
    "Office": ["Notebooks", "Pens", "Desk"],
}
ADJECTIVES = ["Classic", "Copper", "Organic", "Compact", "Deluxe", "Everyday", "Nordic", "Pro", "Vintage",
              "Bamboo", "Cast-Iron", "Wireless", "Merino", "Recycled", "Heritage", "Urban"]
# (status, weight): most orders are done and dusted, a few are stuck or went wrong.
STATUS_WEIGHTS = [("delivered", 62), ("shipped", 8), ("paid", 6), ("pending", 4), ("cancelled", 12), ("refunded", 8)]
EMAIL_TEMPLATES = {
    "order-confirmation": ("Your order {{ order }}", "Thank you for your order {{ order }}. Total: {{ total }}."),
    "order-shipped": ("Order {{ order }} is on its way", "Your order {{ order }} has shipped."),
    "order-cancelled": ("Order {{ order }} was cancelled", "Your order {{ order }} was cancelled."),
    "order-refunded": ("Order {{ order }} was refunded", "We refunded your order {{ order }}."),
    "low-stock": ("Low stock: {{ sku }}", "{{ sku }} in {{ warehouse }}: {{ available }} left."),
}


class ShopSeeder:
    """Builds one shop. `phases()` yields (name, callable) so the command can show progress."""

    def __init__(self, size: Size, seed: int, now: datetime | None = None) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.fake = Faker(["en_GB", "de_DE"])
        self.fake.seed_instance(seed)
        # Dates hang off the start of today, so two seeds on the same day are identical.
        self.now = (now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
        self.counts: dict[str, int] = {}

    def phases(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("reference data", self.reference_data),
            ("customers", self.customers),
            ("catalogue", self.catalogue),
            ("stock", self.stock),
            ("orders", self.orders),
            ("reviews", self.reviews),
            ("carts and wishlists", self.carts),
            ("reports", self.reports),
        ]

    # -- writing -----------------------------------------------------------------------------
    def _write(self, model: type[models.Model], rows: list[models.Model]) -> None:
        model.objects.bulk_create(rows, batch_size=BATCH)
        key = model._meta.label
        self.counts[key] = self.counts.get(key, 0) + len(rows)

    def _ids(self) -> Iterator[int]:
        return iter(range(1, 10**9))

    # -- phases ------------------------------------------------------------------------------
    def reference_data(self) -> None:
        self._write(SiteSetting, [
            SiteSetting(key="shop_name", value="Legacy Shop"),
            SiteSetting(key="support_email", value="help@legacy-shop.example"),
            SiteSetting(key="banner", value="Free shipping over 75 EUR"),
        ])
        self._write(EmailTemplate, [EmailTemplate(key=k, subject=s, body=b) for k, (s, b) in EMAIL_TEMPLATES.items()])
        self.warehouses = [
            Warehouse(id=1, code="BER", name="Berlin", city="Berlin"),
            Warehouse(id=2, code="HAM", name="Hamburg", city="Hamburg"),
            Warehouse(id=3, code="MUC", name="Munich", city="Munich"),
        ]
        self._write(Warehouse, self.warehouses)
        self._write(Supplier, [
            Supplier(id=i, name=self.fake.company(), warehouse=w) for i, w in enumerate(self.warehouses, 1)
        ])
        carriers = [
            Carrier(id=1, name="DHL", tracking_url="https://www.dhl.example/track?id={number}"),
            Carrier(id=2, name="DPD", tracking_url="https://tracking.dpd.example/{number}"),
            Carrier(id=3, name="Hermes", tracking_url="https://hermes.example/t/{number}"),
        ]
        self._write(Carrier, carriers)
        self.methods = [
            ShippingMethod(id=1, carrier=carriers[0], name="Standard", code="dhl-standard", price=Decimal("4.90"), eta_days=3),
            ShippingMethod(id=2, carrier=carriers[0], name="Express", code="dhl-express", price=Decimal("12.90"), eta_days=1),
            ShippingMethod(id=3, carrier=carriers[1], name="Classic", code="dpd-classic", price=Decimal("4.50"), eta_days=3),
            ShippingMethod(id=4, carrier=carriers[2], name="Economy", code="hermes-economy", price=Decimal("3.90"), eta_days=5),
        ]
        self._write(ShippingMethod, self.methods)
        self.brands = [Brand(id=i, name=n, slug=slugify(n)) for i, n in enumerate(
            sorted({self.fake.unique.last_name() + " & Co" for _ in range(30)}), 1)]
        self._write(Brand, self.brands)
        self.tags = [Tag(id=i, name=n) for i, n in enumerate(
            ["bestseller", "new", "eco", "gift", "sale", "handmade", "limited", "bundle", "vegan", "local"], 1)]
        self._write(Tag, self.tags)
        ids = self._ids()
        self.leaf_categories: list[Category] = []
        roots, leaves = [], []
        for root_name, children in CATEGORIES.items():
            root = Category(id=next(ids), name=root_name, slug=slugify(root_name))
            roots.append(root)
            for child in children:
                leaves.append(Category(id=next(ids), name=child, slug=slugify(f"{root_name}-{child}"), parent=root))
        self._write(Category, roots + leaves)
        self.leaf_categories = leaves
        self.promotions = []
        self.coupons = []
        for i in range(1, 7):
            starts = self.now - timedelta(days=self.rng.randint(30, 700))
            percent = i % 2 == 1
            self.promotions.append(Promotion(
                id=i, name=f"{self.fake.month_name()} {'Sale' if percent else 'Voucher'} {i}",
                kind=Promotion.Kind.PERCENT if percent else Promotion.Kind.FIXED,
                value=Decimal(self.rng.choice([5, 10, 15, 20])) if percent else Decimal(self.rng.choice([5, 10])),
                min_order_total=Decimal(self.rng.choice([0, 25, 50])),
                starts_at=starts, ends_at=self.now + timedelta(days=self.rng.randint(-10, 120)),
            ))
        self._write(Promotion, self.promotions)
        through = Promotion.categories.through
        self._write(through, [through(promotion_id=p.id, category_id=c.id)
                              for p in self.promotions for c in self.rng.sample(leaves, 3)])
        for i in range(1, 21):
            self.coupons.append(Coupon(id=i, code=f"{self.fake.unique.word().upper()}{self.rng.randint(5, 30)}",
                                       promotion=self.promotions[i % len(self.promotions)],
                                       max_uses=self.rng.choice([0, 0, 500, 5000])))
        self._write(Coupon, self.coupons)

    def customers(self) -> None:
        password = make_password(CUSTOMER_PASSWORD)
        users, addresses, profiles, prefs = [], [], [], []
        admin = User(id=1, username="admin", email="admin@legacy-shop.example", password=make_password("admin"),
                     is_staff=True, is_superuser=True, first_name="Shop", last_name="Admin")
        users.append(admin)
        address_ids = self._ids()
        self.addresses_of: dict[int, list[Address]] = defaultdict(list)
        for uid in range(2, self.size.customers + 2):
            first, last = self.fake.first_name(), self.fake.last_name()
            joined = self.now - timedelta(days=self.rng.randint(1, 900), minutes=self.rng.randint(0, 1440))
            users.append(User(
                id=uid, username=f"{slugify(first)}.{slugify(last)}.{uid}", email=f"{slugify(first)}.{slugify(last)}.{uid}@example.com",
                first_name=first, last_name=last, password=password, date_joined=joined,
                marketing_opt_in=self.rng.random() < 0.3, phone=self.fake.phone_number()[:32],
            ))
            for n in range(self.rng.choice([1, 1, 2])):
                address = Address(id=next(address_ids), user_id=uid, full_name=f"{first} {last}",
                                  line1=self.fake.street_address()[:200], city=self.fake.city()[:100],
                                  postcode=self.fake.postcode()[:20], country=self.rng.choice(["DE", "DE", "AT", "GB"]),
                                  is_default=n == 0)
                addresses.append(address)
                self.addresses_of[uid].append(address)
            profiles.append(CustomerProfile(id=uid, user_id=uid, default_address=self.addresses_of[uid][0]))
            prefs.append(NotificationPreference(id=uid, user_id=uid, email_marketing=users[-1].marketing_opt_in))
        profiles.append(CustomerProfile(id=1, user_id=1))
        prefs.append(NotificationPreference(id=1, user_id=1))
        self._write(User, users)
        self._write(Address, addresses)
        self._write(CustomerProfile, profiles)
        self._write(NotificationPreference, prefs)
        self.customer_ids = [u.id for u in users[1:]]
        self.email_of = {u.id: u.email for u in users}

    def catalogue(self) -> None:
        products, variants, images, tag_rows = [], [], [], []
        variant_ids = self._ids()
        digital_every = 50
        digital: list[DigitalProduct] = []
        for pid in range(1, self.size.products + 1):
            category = self.rng.choice(self.leaf_categories)
            noun = category.name.rstrip("s") if category.name.endswith("s") else category.name
            name = f"{self.rng.choice(ADJECTIVES)} {noun} {self.fake.word().title()}"
            price = money(Decimal(self.rng.randint(300, 25_000)) / 100)
            fields = dict(name=name, slug=f"{slugify(name)}-{pid}", description=self.fake.paragraph(nb_sentences=3),
                          category_id=category.id, brand_id=self.rng.choice(self.brands).id, base_price=price,
                          is_active=self.rng.random() > 0.03)
            if pid % digital_every == 0:
                digital.append(DigitalProduct(id=pid, download_url=f"https://downloads.legacy-shop.example/{pid}",
                                              **fields))
                continue
            products.append(Product(id=pid, **fields))
        self._write(Product, products)
        for item in digital:  # multi-table inheritance cannot be bulk-inserted
            item.save(force_insert=True)
        self.counts["catalog.DigitalProduct"] = len(digital)
        self.counts["catalog.Product"] += len(digital)
        self.variants: list[ProductVariant] = []
        for product in [*products, *digital]:
            sizes = self.rng.choice([[""], ["S", "M", "L"], ["Small", "Large"], ["Red", "Blue", "Green"]])
            for label in sizes:
                vid = next(variant_ids)
                variants.append(ProductVariant(
                    id=vid, product_id=product.id, sku=f"SKU-{product.id:05d}-{vid:06d}", name=label,
                    price=money(product.base_price * Decimal(self.rng.choice(["1", "1", "1.1", "0.95"]))),
                    weight_grams=self.rng.randint(80, 8000), attributes={"option": label} if label else {},
                ))
            for position in range(self.rng.randint(1, 3)):
                images.append(ProductImage(product_id=product.id, url=f"/media/products/{product.id}-{position}.jpg",
                                           alt=product.name, position=position))
            for tag in self.rng.sample(self.tags, self.rng.randint(0, 3)):
                tag_rows.append(Product.tags.through(product_id=product.id, tag_id=tag.id))
        self._write(ProductVariant, variants)
        self._write(ProductImage, images)
        self._write(Product.tags.through, tag_rows)
        self.variants = variants
        self.product_of = {v.id: v.product_id for v in variants}
        self.product_name = {p.id: p.name for p in [*products, *digital]}
        self.product_ids = [p.id for p in [*products, *digital]]

    def stock(self) -> None:
        rows = []
        self.stock_of: dict[int, StockItem] = {}
        sid = self._ids()
        for variant in self.variants:
            for warehouse in self.rng.sample(self.warehouses, self.rng.randint(1, 3)):
                item = StockItem(id=next(sid), variant_id=variant.id, warehouse_id=warehouse.id,
                                 quantity=self.rng.choice([0, 2, 4, 15, 40, 120, 300]))
                rows.append(item)
                self.stock_of.setdefault(variant.id, item)
        self._write(StockItem, rows)

    def orders(self) -> None:
        statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
        orders, lines, events, payments, refunds, invoices = [], [], [], [], [], []
        shipments, shipment_lines, tracking, redemptions, movements, returns, notifications = [], [], [], [], [], [], []
        line_ids, event_ids, ship_ids = self._ids(), self._ids(), self._ids()
        coupon_uses: dict[int, int] = defaultdict(int)
        self.delivered_lines: list[tuple[int, OrderLine]] = []
        self.units_of: dict[int, int] = {}
        template_ids = dict(EmailTemplate.objects.values_list("key", "id"))
        span_minutes = 730 * 24 * 60
        for oid in range(1, self.size.orders + 1):
            customer = self.rng.choice(self.customer_ids)
            # Older orders are rarer: the shop grew.
            placed = self.now - timedelta(minutes=int(span_minutes * (self.rng.random() ** 1.6)) + 1)
            status = self.rng.choices(statuses, weights)[0]
            method = self.rng.choice(self.methods)
            order_lines = []
            for variant in self.rng.sample(self.variants, self.rng.choice([1, 2, 2, 3, 3, 4, 5])):
                quantity = self.rng.choice([1, 1, 1, 2, 3])
                line = OrderLine(id=next(line_ids), order_id=oid, variant_id=variant.id,
                                 product_name=self.product_name[variant.product_id], sku=variant.sku,
                                 quantity=quantity, unit_price=variant.price, line_total=money(variant.price * quantity))
                order_lines.append(line)
            subtotal = money(sum(line.line_total for line in order_lines))
            coupon = self.rng.choice(self.coupons) if self.rng.random() < 0.08 else None
            discount = Decimal("0.00")
            if coupon is not None:
                promo = self.promotions[coupon.id % len(self.promotions)]
                if subtotal >= promo.min_order_total:
                    discount = (money(subtotal * promo.value / 100) if promo.kind == Promotion.Kind.PERCENT
                                else min(money(promo.value), subtotal))
                else:
                    coupon = None
            shipping = Decimal("0.00") if subtotal - discount >= FREE_SHIPPING_OVER else method.price
            total = money(subtotal - discount + shipping)
            address = self.rng.choice(self.addresses_of[customer])
            orders.append(Order(id=oid, number=f"ORD-{placed:%Y%m%d}-{oid:06d}", customer_id=customer,
                                shipping_address_id=address.id, shipping_method_id=method.id,
                                coupon_id=coupon.id if coupon else None, status=status, subtotal=subtotal,
                                discount=discount, shipping_cost=shipping, total=total, placed_at=placed))
            lines.extend(order_lines)
            self.units_of[oid] = sum(line.quantity for line in order_lines)
            if coupon is not None:
                coupon_uses[coupon.id] += 1
                redemptions.append(CouponRedemption(coupon_id=coupon.id, order_id=oid, user_id=customer, amount=discount))
            path = {"pending": ["pending"], "paid": ["pending", "paid"], "shipped": ["pending", "paid", "shipped"],
                    "delivered": ["pending", "paid", "shipped", "delivered"], "cancelled": ["pending", "cancelled"],
                    "refunded": ["pending", "paid", "shipped", "delivered", "refunded"]}[status]
            previous = ""
            for step, to_status in enumerate(path):
                events.append(OrderStatusEvent(id=next(event_ids), order_id=oid, from_status=previous,
                                               to_status=to_status, note="placed" if step == 0 else ""))
                previous = to_status
            notifications.append(Notification(user_id=customer, to_email=self.email_of[customer],
                                              template_id=template_ids["order-confirmation"],
                                              payload={"order": orders[-1].number, "total": str(total)},
                                              status=Notification.Status.SENT, sent_at=placed))
            for line in order_lines:
                item = self.stock_of.get(line.variant_id)
                if item is not None:
                    movements.append(StockMovement(stock_item_id=item.id, delta=-line.quantity, reason="sale", order_id=oid))
            if status in {"pending", "cancelled"}:
                continue
            payment = Payment(id=oid, order_id=oid, reference=f"PAY-{oid:08d}", amount=total,
                              status=Payment.Status.REFUNDED if status == "refunded" else Payment.Status.CAPTURED,
                              captured_at=placed + timedelta(minutes=1))
            payments.append(payment)
            invoices.append(Invoice(order_id=oid, number=f"INV-{placed:%Y}-{oid:06d}", total=total,
                                    issued_at=placed + timedelta(minutes=2)))
            if status in {"shipped", "delivered", "refunded"}:
                sid = next(ship_ids)
                shipped_at = placed + timedelta(days=self.rng.randint(0, 2), hours=self.rng.randint(1, 20))
                ship_status = Shipment.Status.IN_TRANSIT if status == "shipped" else Shipment.Status.DELIVERED
                shipments.append(Shipment(id=sid, order_id=oid, method_id=method.id, address_id=address.id,
                                          tracking_number=f"{method.code[:3].upper()}{sid:010d}", status=ship_status,
                                          shipped_at=shipped_at))
                shipment_lines.extend(Shipment.lines.through(shipment_id=sid, orderline_id=line.id) for line in order_lines)
                tracking.append(TrackingEvent(shipment_id=sid, status=Shipment.Status.IN_TRANSIT, location="Hub"))
                if ship_status == Shipment.Status.DELIVERED:
                    tracking.append(TrackingEvent(shipment_id=sid, status=Shipment.Status.DELIVERED,
                                                  location=self.addresses_of[customer][0].city))
                    self.delivered_lines.extend((customer, line) for line in order_lines)
            if status == "refunded":
                request = ReturnRequest(line_id=order_lines[0].id, quantity=order_lines[0].quantity,
                                        reason=self.fake.sentence(), status=ReturnRequest.Status.APPROVED)
                returns.append(request)
                refunds.append(Refund(payment_id=payment.id, amount=total, reason="returned"))
        self._write(Order, orders)
        self._write(OrderLine, lines)
        self._write(OrderStatusEvent, events)
        self._write(CouponRedemption, redemptions)
        self._write(Payment, payments)
        self._write(Invoice, invoices)
        self._write(Shipment, shipments)
        self._write(Shipment.lines.through, shipment_lines)
        self._write(TrackingEvent, tracking)
        self._write(ReturnRequest, returns)
        self._write(Refund, refunds)
        self._write(StockMovement, movements)
        self._write(Notification, notifications)
        for coupon in self.coupons:
            coupon.used_count = coupon_uses[coupon.id]
        Coupon.objects.bulk_update(self.coupons, ["used_count"], batch_size=BATCH)
        self.orders_built = orders

    def reviews(self) -> None:
        reviews, votes = [], []
        seen: set[tuple[int, int]] = set()
        rid = self._ids()
        for customer, line in self.delivered_lines:
            product = self.product_of.get(line.variant_id)
            if product is None or (product, customer) in seen or self.rng.random() > 0.2:
                continue
            seen.add((product, customer))
            rating = self.rng.choices([1, 2, 3, 4, 5], [4, 6, 15, 35, 40])[0]
            reviews.append(Review(id=next(rid), product_id=product, author_id=customer, order_line_id=line.id,
                                  rating=rating, title=self.fake.sentence(nb_words=4)[:120],
                                  body=self.fake.paragraph(nb_sentences=2), is_approved=self.rng.random() > 0.05))
        for review in reviews:
            for voter in self.rng.sample(self.customer_ids, self.rng.randint(0, 3)):
                if voter != review.author_id:
                    votes.append(ReviewVote(review_id=review.id, user_id=voter, helpful=self.rng.random() < 0.8))
        self._write(Review, reviews)
        self._write(ReviewVote, votes)
        ratings: dict[int, list[int]] = defaultdict(list)
        for review in reviews:
            if review.is_approved:
                ratings[review.product_id].append(review.rating)
        rated = [Product(id=pid, rating_avg=money(Decimal(sum(r)) / len(r)), rating_count=len(r))
                 for pid, r in ratings.items()]
        Product.objects.bulk_update(rated, ["rating_avg", "rating_count"], batch_size=BATCH)

    def carts(self) -> None:
        carts, items, wishlists, wished = [], [], [], []
        cid = self._ids()
        for customer in self.rng.sample(self.customer_ids, max(1, len(self.customer_ids) // 10)):
            cart = Cart(id=next(cid), user_id=customer)
            carts.append(cart)
            for variant in self.rng.sample(self.variants, self.rng.randint(1, 3)):
                items.append(CartItem(cart_id=cart.id, variant_id=variant.id, quantity=self.rng.randint(1, 2)))
        for wid, customer in enumerate(self.rng.sample(self.customer_ids, max(1, len(self.customer_ids) // 5)), 1):
            wishlists.append(Wishlist(id=wid, user_id=customer))
            wished.extend(Wishlist.products.through(wishlist_id=wid, product_id=p)
                          for p in self.rng.sample(self.product_ids, self.rng.randint(1, 4)))
        self._write(Cart, carts)
        self._write(CartItem, items)
        self._write(Wishlist, wishlists)
        self._write(Wishlist.products.through, wished)

    def reports(self) -> None:
        days: dict = defaultdict(lambda: [0, Decimal("0"), 0])
        for order in self.orders_built:
            if order.status in {"paid", "shipped", "delivered"}:
                day = days[order.placed_at.date()]
                day[0] += 1
                day[1] += order.total
                day[2] += self.units_of[order.id]
        self._write(DailySalesSnapshot, [
            DailySalesSnapshot(day=day, orders_count=n, revenue=money(revenue), units_sold=units)
            for day, (n, revenue, units) in sorted(days.items()) if day < self.now.date()
        ][-90:])
