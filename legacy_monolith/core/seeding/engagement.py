"""What customers do besides buying: reviews and votes on them, carts still open, wishlists."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from legacy_monolith.cart.models import Cart, CartItem, Wishlist
from legacy_monolith.catalog.models import Product
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import World
from legacy_monolith.reviews.models import Review, ReviewVote

REVIEW_SHARE = 0.18  # of delivered lines
UNVERIFIED_SHARE = 0.1  # reviews by people who did not buy here, relative to verified ones
RATINGS, RATING_WEIGHTS = (1, 2, 3, 4, 5), (4, 6, 14, 36, 40)
TITLES = {
    5: [
        "Excellent",
        "Love it",
        "Exactly as described",
        "Best purchase this year",
        "Highly recommended",
    ],
    4: ["Very good", "Does the job well", "Good value", "Nice quality", "Happy with it"],
    3: ["It's okay", "Decent, not great", "Average", "Fine for the price"],
    2: ["Disappointing", "Not as described", "Expected more", "Meh"],
    1: ["Broke after a week", "Would not buy again", "Poor quality", "Waste of money"],
}
SENTENCES = {
    5: [
        "Arrived quickly and works perfectly.",
        "The quality is outstanding.",
        "Bought a second one as a present.",
        "Exceeded my expectations.",
    ],
    4: [
        "Good quality for the price.",
        "Works as expected.",
        "Delivery took a day longer than promised.",
        "Would buy again.",
    ],
    3: [
        "It does what it says, nothing more.",
        "The colour is a bit different from the photos.",
        "Okay, but the packaging was damaged.",
    ],
    2: [
        "Feels cheaper than it looks.",
        "Stopped working properly after a month.",
        "The instructions are unclear.",
    ],
    1: [
        "Arrived broken and the return took weeks.",
        "Nothing like the description.",
        "Do not buy.",
    ],
}


def build_reviews(world: World, out: RowWriter) -> None:
    rng, now = world.rng, world.now
    reviews: list[Review] = []
    seen: set[tuple[int, int]] = set()
    for customer_id, product_id, line_id, delivered_at in world.delivered_lines:
        if (product_id, customer_id) in seen or rng.random() >= REVIEW_SHARE:
            continue
        written = delivered_at + timedelta(days=rng.uniform(1, 40))
        if written < now:
            seen.add((product_id, customer_id))
            reviews.append(_review(world, product_id, customer_id, line_id, written))
    active = [customer for customer in world.customers if customer.user.is_active]
    products = [item.product for item in world.items]
    for _ in range(int(len(reviews) * UNVERIFIED_SHARE)):
        customer, product = rng.choice(active), rng.choice(products)
        key = (product.id, customer.user.id)
        if key in seen or (customer.user.id, product.id) in world.bought:
            continue  # a buyer's review would have been linked to the order line (reviews.receivers)
        seen.add(key)
        since = max(customer.user.date_joined, product.created_at)
        reviews.append(
            _review(world, product.id, customer.user.id, None, since + (now - since) * rng.random())
        )
    reviews.sort(key=lambda review: review.created_at)
    for number, review in enumerate(reviews, 1):
        review.id = number
    out.write(Review, reviews)

    voters = [customer.user.id for customer in active]
    votes = []
    for review in reviews:
        count = rng.choices([0, 1, 2, 3, 4, 6], [35, 25, 17, 11, 8, 4])[0]
        for voter in rng.sample(voters, min(count, len(voters))):
            if voter != review.author_id:
                votes.append(
                    ReviewVote(review_id=review.id, user_id=voter, helpful=rng.random() < 0.78)
                )
    out.write(ReviewVote, votes)
    out.update(Product, _ratings(reviews), ["rating_avg", "rating_count"])


def _review(
    world: World, product_id: int, author_id: int, line_id: int | None, written: datetime
) -> Review:
    rng = world.rng
    rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
    lean = world.quality[product_id]
    if rng.random() < min(abs(lean), 1) / 2:  # good products get better reviews, bad ones worse
        rating = min(5, max(1, rating + (1 if lean > 0 else -1)))
    body = " ".join(rng.sample(SENTENCES[rating], rng.randint(1, 2)))
    return Review(
        product_id=product_id,
        author_id=author_id,
        order_line_id=line_id,
        rating=rating,
        title=rng.choice(TITLES[rating]),
        body=body,
        is_approved=rng.random() > 0.04,
        created_at=written,
        updated_at=written,
    )


def _ratings(reviews: list[Review]) -> list[Product]:
    """The denormalised rating catalog.receivers keeps: approved reviews only, two decimals."""
    ratings: dict[int, list[int]] = defaultdict(list)
    for review in reviews:
        if review.is_approved:
            ratings[review.product_id].append(review.rating)
    return [
        Product(
            id=product_id,
            rating_count=len(values),
            rating_avg=(Decimal(sum(values)) / len(values)).quantize(
                Decimal("0.01"), ROUND_HALF_EVEN
            ),
        )
        for product_id, values in ratings.items()
    ]


def build_carts(world: World, out: RowWriter) -> None:
    """Open carts of customers and of anonymous visitors (some abandoned long enough for
    cart.purge_abandoned_carts), and wishlists."""
    rng, now = world.rng, world.now
    on_sale = [item for item in world.items if item.product.is_active]
    current = [
        coupon
        for coupon in world.coupons
        if coupon.is_active and coupon.promotion.starts_at <= now <= coupon.promotion.ends_at
    ]
    carts, items = [], []
    shoppers = [customer.user.id for customer in world.customers if customer.user.is_active]
    owners: list[int | None] = rng.sample(shoppers, max(1, len(shoppers) // 12))
    owners += [None] * max(3, len(shoppers) // 8)
    for owner in owners:
        opened = now - timedelta(days=rng.uniform(0.02, 60 if owner is None else 20))
        cart = Cart(
            id=world.next_id(Cart),
            user_id=owner,
            created_at=opened,
            session_key="" if owner else f"{rng.getrandbits(128):032x}",
            coupon=rng.choice(current) if current and owner and rng.random() < 0.1 else None,
            updated_at=opened + (now - opened) * rng.random() * 0.2,
        )
        carts.append(cart)
        for item in rng.sample(on_sale, rng.randint(1, 4)):
            items.append(
                CartItem(
                    cart_id=cart.id,
                    variant_id=item.variant.id,
                    quantity=1 if item.digital else rng.choice([1, 1, 1, 2]),
                )
            )
    out.write(Cart, carts)
    out.write(CartItem, items)

    wishlists, wished = [], []
    products = sorted({item.product.id for item in on_sale})
    for customer in rng.sample(world.customers, max(1, len(world.customers) // 5)):
        since = customer.user.date_joined
        wishlist = Wishlist(
            id=world.next_id(Wishlist),
            user_id=customer.user.id,
            created_at=since,
            updated_at=since + (now - since) * rng.random(),
        )
        wishlists.append(wishlist)
        wished += [
            Wishlist.products.through(wishlist_id=wishlist.id, product_id=product_id)
            for product_id in rng.sample(products, min(len(products), rng.randint(1, 6)))
        ]
    out.write(Wishlist, wishlists)
    out.write(Wishlist.products.through, wished)
