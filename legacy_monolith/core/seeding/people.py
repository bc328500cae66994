"""The people: an admin, a few staff, and customers with addresses in four countries.

bulk_create skips post_save, so the profile and notification preference the accounts receiver
would create for every user are written here: preferences now, profiles once the orders are in
(they carry lifetime value and loyalty points).
"""

from __future__ import annotations

import random
import string
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.utils.text import slugify

from legacy_monolith.accounts.models import Address, CustomerProfile, User
from legacy_monolith.core.seeding.store import RowWriter
from legacy_monolith.core.seeding.world import LOCALES, Customer, Pool, World
from legacy_monolith.notifications.models import NotificationPreference

CUSTOMER_PASSWORD = "shop-demo-123"  # customers and staff
ADMIN_USERNAME = ADMIN_PASSWORD = "admin"
COUNTRIES = {"DE": 70, "AT": 12, "GB": 10, "NL": 8}
MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example", "post.example"]
WINDOW_DAYS = 730
STAFF_GROUP = "Warehouse"
STAFF_PERMISSIONS = [
    "view_order",
    "change_order",
    "view_shipment",
    "change_shipment",
    "add_trackingevent",
    "view_stockitem",
    "change_stockitem",
    "view_returnrequest",
    "change_returnrequest",
]


def build(world: World, out: RowWriter) -> None:
    rng, now = world.rng, world.now
    customer_hash = _hash(world, CUSTOMER_PASSWORD)
    admin = User(
        id=world.next_id(User),
        username=ADMIN_USERNAME,
        email="admin@legacy-shop.example",
        password=_hash(world, ADMIN_PASSWORD),
        first_name="Shop",
        last_name="Admin",
        is_staff=True,
        is_superuser=True,
        date_joined=now - timedelta(days=1500),
        last_login=now - timedelta(hours=3),
    )
    users, usernames = [admin], {admin.username}
    fake = world.fakers["de_DE"]
    for _ in range(world.size.staff):
        first, last = fake.first_name(), fake.last_name()
        username = _unique(rng, f"{_ascii(first)}.{_ascii(last)}", usernames)
        users.append(
            User(
                id=world.next_id(User),
                username=username,
                password=customer_hash,
                email=f"{username}@legacy-shop.example",
                first_name=first,
                last_name=last,
                is_staff=True,
                date_joined=now - timedelta(days=rng.randint(400, 1400)),
                last_login=now - timedelta(hours=rng.randint(2, 60)),
            )
        )
    world.admin, world.staff_ids = admin, [user.id for user in users[1:]]

    addresses: list[Address] = []
    countries, shares = list(COUNTRIES), list(COUNTRIES.values())
    for index in range(world.size.customers):
        country = rng.choices(countries, shares)[0]
        fake = world.fakers[LOCALES[country]]
        first, last = fake.first_name(), fake.last_name()
        username = _unique(rng, f"{_ascii(first)}.{_ascii(last)}", usernames)
        # A few customers predate the two years of orders, so the oldest orders have someone to buy.
        if index < max(3, world.size.customers // 7):
            age = rng.uniform(WINDOW_DAYS + 5, 1500)
        else:
            age = WINDOW_DAYS * rng.random() ** 1.3
        joined = now - timedelta(days=age)
        opted_in = rng.random() < 0.3
        user = User(
            id=world.next_id(User),
            username=username,
            email=f"{username}@{rng.choice(MAIL_DOMAINS)}",
            password=customer_hash,
            first_name=first,
            last_name=last,
            phone=fake.phone_number()[:32],
            marketing_opt_in=opted_in,
            date_joined=joined,
            is_active=rng.random() > 0.01,
            last_login=joined + (now - joined) * rng.random() ** 0.3,
        )
        users.append(user)
        own = []
        for number in range(rng.choices([1, 2, 3], [70, 25, 5])[0]):
            other = rng.choice(countries) if number and rng.random() < 0.2 else country
            local = world.fakers[LOCALES[other]]
            own.append(
                Address(
                    id=world.next_id(Address),
                    user_id=user.id,
                    full_name=f"{first} {last}"
                    if number == 0 or rng.random() < 0.6
                    else local.name(),
                    line1=local.street_address()[:200],
                    line2=rng.choice(["", "", "", "2nd floor", "c/o reception"]),
                    city=local.city()[:100],
                    postcode=local.postcode()[:20],
                    country=other,
                    is_default=number == 0,
                    created_at=joined + timedelta(days=number * rng.uniform(0, age / 2)),
                )
            )
        addresses += own
        world.customers.append(
            Customer(user=user, addresses=own, wants_order_mail=rng.random() > 0.05)
        )
    out.write(User, users)
    out.write(Address, addresses)
    _staff_permissions(world, out)

    wants = {customer.user.id: customer.wants_order_mail for customer in world.customers}
    out.write(
        NotificationPreference,
        [
            NotificationPreference(
                id=world.next_id(NotificationPreference),
                user_id=user.id,
                email_orders=wants.get(user.id, True),
                email_marketing=user.marketing_opt_in,
                email_back_in_stock=rng.random() < 0.7,
            )
            for user in users
        ],
    )
    # How often each customer orders is lopsided: a few regulars, many one-off buyers.
    world.customer_pool = Pool(
        [
            (customer.user.date_joined + timedelta(hours=1), rng.lognormvariate(0, 1.0), customer)
            for customer in world.customers
            if customer.user.is_active
        ]
    )


def _staff_permissions(world: World, out: RowWriter) -> None:
    """Staff work through a group; the first of them can also read the reports directly.
    Group and Permission are auth's tables, left alone by a reset, so the group may exist."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    group.permissions.set(Permission.objects.filter(codename__in=STAFF_PERMISSIONS))
    out.write(
        User.groups.through,
        [User.groups.through(user_id=staff_id, group_id=group.id) for staff_id in world.staff_ids],
    )
    reports = Permission.objects.filter(codename="view_reportrun")
    out.write(
        User.user_permissions.through,
        [
            User.user_permissions.through(user_id=world.staff_ids[0], permission_id=permission.id)
            for permission in reports
        ],
    )


def write_profiles(world: World, out: RowWriter) -> None:
    """One profile per user, with what the payment receiver would have added up."""
    profiles = [
        CustomerProfile(
            id=world.next_id(CustomerProfile),
            user_id=world.admin.id,
            created_at=world.admin.date_joined,
            updated_at=world.admin.date_joined,
        )
    ]
    profiles += [
        CustomerProfile(id=world.next_id(CustomerProfile), user_id=staff_id)
        for staff_id in world.staff_ids
    ]
    for customer in world.customers:
        joined = customer.user.date_joined
        profiles.append(
            CustomerProfile(
                id=world.next_id(CustomerProfile),
                user_id=customer.user.id,
                default_address_id=customer.addresses[0].id,
                lifetime_value=customer.lifetime_value,
                loyalty_points=customer.loyalty_points,
                created_at=joined,
                updated_at=customer.last_paid_at or joined,
            )
        )
    out.write(CustomerProfile, profiles)


def _hash(world: World, password: str) -> str:
    """One hash per password with a salt from the seed: usable logins, identical rows per seed."""
    salt = "".join(world.rng.choice(string.ascii_letters + string.digits) for _ in range(22))
    return make_password(password, salt=salt)


def _unique(rng: random.Random, base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name = f"{base}{rng.randint(2, 999)}"
    taken.add(name)
    return name


def _ascii(name: str) -> str:
    return slugify(name.replace("ß", "ss")).replace("-", "") or "customer"
