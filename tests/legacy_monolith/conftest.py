"""A small shop, built fresh for each test that asks for it: the fixtures the monolith's tests share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.accounts.models import Address, User
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Brand, Category, Product, ProductVariant
from legacy_monolith.inventory.models import StockItem, Warehouse
from legacy_monolith.notifications.models import EmailTemplate
from legacy_monolith.promotions.models import Coupon, Promotion
from legacy_monolith.shipping.models import Carrier, ShippingMethod


@dataclass
class Shop:
    customer: User
    address: Address
    staff: User
    books: Category
    kettle: ProductVariant
    novel: ProductVariant
    warehouse: Warehouse
    standard: ShippingMethod
    coupon: Coupon

    def cart_with(self, *lines: tuple[ProductVariant, int], coupon: Coupon | None = None) -> Cart:
        cart = Cart.objects.create(user=self.customer, coupon=coupon)
        for variant, quantity in lines:
            CartItem.objects.create(cart=cart, variant=variant, quantity=quantity)
        return cart

    def stock_of(self, variant: ProductVariant) -> int:
        return StockItem.objects.get(variant=variant, warehouse=self.warehouse).quantity


@pytest.fixture
def shop(db) -> Shop:
    customer = User.objects.create_user("ada", email="ada@example.com", password="correct-horse-1")
    staff = User.objects.create_user(
        "sam", email="sam@example.com", password="correct-horse-2", is_staff=True
    )
    address = Address.objects.create(
        user=customer,
        full_name="Ada Lovelace",
        line1="1 Analytical St",
        city="Berlin",
        postcode="10115",
        is_default=True,
    )
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    books = Category.objects.create(name="Books", slug="books")
    brand = Brand.objects.create(name="Steamwork", slug="steamwork")
    kettle_product = Product.objects.create(
        name="Copper Kettle",
        slug="copper-kettle",
        category=kitchen,
        brand=brand,
        base_price=Decimal("40.00"),
    )
    novel_product = Product.objects.create(
        name="The Difference Engine",
        slug="the-difference-engine",
        category=books,
        base_price=Decimal("12.50"),
    )
    kettle = ProductVariant.objects.create(
        product=kettle_product, sku="KET-CU-1", price=Decimal("40.00"), weight_grams=1200
    )
    novel = ProductVariant.objects.create(
        product=novel_product, sku="BK-DE-1", price=Decimal("12.50"), weight_grams=400
    )
    warehouse = Warehouse.objects.create(code="BER", name="Berlin", city="Berlin")
    StockItem.objects.create(variant=kettle, warehouse=warehouse, quantity=10)
    StockItem.objects.create(variant=novel, warehouse=warehouse, quantity=3)
    carrier = Carrier.objects.create(name="DHL", tracking_url="https://track.example/{number}")
    standard = ShippingMethod.objects.create(
        carrier=carrier, name="Standard", code="dhl-standard", price=Decimal("4.90")
    )
    now = timezone.now()
    promo = Promotion.objects.create(
        name="Spring",
        kind=Promotion.Kind.PERCENT,
        value=Decimal("10"),
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
    )
    coupon = Coupon.objects.create(code="SPRING10", promotion=promo, max_uses=2)
    EmailTemplate.objects.create(
        key="order-confirmation",
        subject="Your order {{ order }}",
        body="Thank you! Total {{ total }}.",
    )
    return Shop(customer, address, staff, books, kettle, novel, warehouse, standard, coupon)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's deliberate slowness is for production; tests hash a lot of passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
