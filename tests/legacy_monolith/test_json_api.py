"""The shop's JSON API as a client uses it: real requests through Django's stack, real rows."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment


def post_json(client, url, data, method="post"):
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


@pytest.fixture
def logged_in(client, shop):
    client.force_login(shop.customer)
    return client


def checkout_body(shop, token="tok_visa"):
    return {
        "address_id": shop.address.pk,
        "shipping_method_id": shop.standard.pk,
        "card_token": token,
    }


def test_product_list_filters_by_category_and_pages(client, shop):
    everything = client.get("/api/products/").json()
    assert everything["count"] == 2
    books = client.get("/api/products/", {"category": "books"}).json()
    assert [p["slug"] for p in books["results"]] == ["the-difference-engine"]
    page = client.get("/api/products/", {"limit": 1, "offset": 1}).json()
    assert len(page["results"]) == 1 and page["offset"] == 1


def test_bad_paging_numbers_fall_back_instead_of_failing(client, shop):
    response = client.get("/api/products/", {"limit": "many", "offset": "-4"})
    assert response.status_code == 200
    assert response.json()["offset"] == 0


def test_product_detail_lists_variants_and_unknown_slug_is_404(client, shop):
    detail = client.get("/api/products/copper-kettle/").json()
    assert [v["sku"] for v in detail["variants"]] == ["KET-CU-1"]
    missing = client.get("/api/products/no-such-thing/")
    assert missing.status_code == 404 and "error" in missing.json()


def test_availability_sums_stock_across_warehouses(client, shop):
    data = client.get("/api/products/copper-kettle/availability/").json()
    assert data["variants"] == [{"sku": "KET-CU-1", "available": 10}]


def test_cart_add_and_remove_by_sku(client, shop):
    added = post_json(client, "/api/cart/items/", {"sku": "BK-DE-1", "quantity": 2})
    assert added.status_code == 201
    assert added.json()["items"][0]["quantity"] == 2
    again = post_json(client, "/api/cart/items/", {"sku": "BK-DE-1"})
    assert again.json()["items"][0]["quantity"] == 3
    assert client.get("/api/cart/").json()["subtotal"] == "37.50"
    removed = client.delete("/api/cart/items/BK-DE-1/")
    assert removed.status_code == 200 and removed.json()["items"] == []
    assert client.delete("/api/cart/items/BK-DE-1/").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ("[1, 2]", 400),
        ('{"quantity": 1}', 400),
        ('{"sku": "NOPE"}', 404),
        ('{"sku": "BK-DE-1", "quantity": 0}', 400),
        ('{"sku": "BK-DE-1", "quantity": "x"}', 400),
    ],
)
def test_cart_rejects_bad_input_with_a_json_4xx(client, shop, body, status):
    response = client.post("/api/cart/items/", data=body, content_type="application/json")
    assert response.status_code == status
    assert response.json()["error"]


def test_checkout_through_the_api_creates_the_order_and_takes_the_stock(logged_in, shop):
    post_json(logged_in, "/api/cart/items/", {"sku": "KET-CU-1", "quantity": 2})
    response = post_json(logged_in, "/api/checkout/", checkout_body(shop))
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "paid"
    assert order["total"] == "80.00"  # 2 x 40.00, free shipping over 75
    assert [line["sku"] for line in order["lines"]] == ["KET-CU-1"]
    assert shop.stock_of(shop.kettle) == 8
    assert Payment.objects.get(order__number=order["number"]).status == "captured"
    listed = logged_in.get("/api/orders/").json()
    assert [o["number"] for o in listed["results"]] == [order["number"]]
    assert logged_in.get(f"/api/orders/{order['number']}/").json()["lines"][0]["quantity"] == 2


def test_declined_card_is_402_and_leaves_no_order(logged_in, shop):
    post_json(logged_in, "/api/cart/items/", {"sku": "KET-CU-1"})
    response = post_json(logged_in, "/api/checkout/", checkout_body(shop, token="tok_declined"))
    assert response.status_code == 402
    assert "declined" in response.json()["error"]
    assert not Order.objects.exists()
    assert shop.stock_of(shop.kettle) == 10


def test_out_of_stock_is_409(logged_in, shop):
    post_json(logged_in, "/api/cart/items/", {"sku": "BK-DE-1", "quantity": 4})
    response = post_json(logged_in, "/api/checkout/", checkout_body(shop))
    assert response.status_code == 409
    assert not Order.objects.exists()


def test_checkout_with_missing_fields_or_bad_json_is_400(logged_in, shop):
    assert (
        post_json(logged_in, "/api/checkout/", {"address_id": shop.address.pk}).status_code == 400
    )
    bad = logged_in.post("/api/checkout/", data="{", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]


def test_orders_need_a_login(client, shop):
    assert client.get("/api/orders/").status_code == 401
    assert post_json(client, "/api/checkout/", checkout_body(shop)).status_code == 401


def test_another_customers_order_is_not_found(logged_in, shop, django_user_model):
    post_json(logged_in, "/api/cart/items/", {"sku": "KET-CU-1"})
    number = post_json(logged_in, "/api/checkout/", checkout_body(shop)).json()["number"]
    logged_in.force_login(shop.staff)
    assert logged_in.get(f"/api/orders/{number}/").status_code == 404


def test_reports_are_staff_only_and_count_a_real_checkout(logged_in, shop):
    post_json(logged_in, "/api/cart/items/", {"sku": "BK-DE-1", "quantity": 2})
    assert post_json(logged_in, "/api/checkout/", checkout_body(shop)).status_code == 201
    assert logged_in.get("/api/backoffice/reports/sales-by-category/").status_code == 403
    logged_in.force_login(shop.staff)
    rows = logged_in.get("/api/backoffice/reports/sales-by-category/").json()["rows"]
    assert rows == [
        {
            "category_id": shop.books.pk,
            "category": "Books",
            "orders": 1,
            "units": 2,
            "revenue": "25.00",
        }
    ]
    assert logged_in.get("/api/backoffice/reports/nonsense/").status_code == 404
    stock = logged_in.get("/api/backoffice/stock/BK-DE-1/").json()
    assert stock["warehouses"][0]["quantity"] == 1


def test_coupon_validation(client, shop):
    assert client.get("/api/coupons/spring10/").json()["value"] == "10.00"
    assert client.get("/api/coupons/NOPE/").status_code == 404


def test_shipping_quote_and_methods(client, shop):
    assert client.get("/api/shipping/methods/").json()["results"][0]["code"] == "dhl-standard"
    quote = client.get(
        "/api/shipping/quote/", {"method": "dhl-standard", "subtotal": "20", "weight": "7000"}
    ).json()
    assert quote["price"] == "7.90"  # 4.90 + 2 kg over 5 kg at 1.50
    assert (
        client.get("/api/shipping/quote/", {"method": "dhl-standard", "subtotal": "x"}).status_code
        == 400
    )
    assert client.get("/api/shipping/quote/", {"method": "pigeon"}).status_code == 404


def test_reviews_post_once_per_customer_and_update_the_product_rating(logged_in, shop):
    url = "/api/products/copper-kettle/reviews/"
    assert post_json(logged_in, url, {"rating": 4, "title": "Boils"}).status_code == 201
    assert post_json(logged_in, url, {"rating": 5}).status_code == 409
    assert post_json(logged_in, url, {"rating": 9}).status_code == 400
    assert logged_in.get(url).json()["count"] == 1
    assert logged_in.get("/api/products/copper-kettle/").json()["rating"] == "4.00"


def test_notification_preferences_update_validates_fields(logged_in, shop):
    url = "/api/notifications/preferences/"
    assert (
        post_json(logged_in, url, {"email_orders": False}, method="put").json()["email_orders"]
        is False
    )
    assert post_json(logged_in, url, {"email_spam": True}, method="put").status_code == 400
    assert post_json(logged_in, url, {"email_orders": "no"}, method="put").status_code == 400


def test_health_reports_the_database(client, db):
    assert client.get("/api/health").json() == {"status": "ok", "database": "ok"}


def walk(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            yield from walk(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_the_shop_has_at_least_forty_routes_besides_the_admin():
    routes = list(walk(get_resolver()))
    assert len(routes) >= 40, routes
    assert sum(r.startswith("api/") for r in routes) >= 15
