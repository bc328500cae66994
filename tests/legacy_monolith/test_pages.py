"""Every HTML page renders for the right person, and the form flows a shopper uses work."""

import pytest
from django.urls import reverse

from legacy_monolith.orders.models import Order
from legacy_monolith.shipping.models import Shipment


@pytest.fixture
def placed_order(client, shop):
    client.force_login(shop.customer)
    client.post(reverse("cart:add"), {"variant_id": shop.kettle.pk, "quantity": 1})
    response = client.post(
        reverse("orders:checkout"),
        {
            "address_id": shop.address.pk,
            "shipping_method_id": shop.standard.pk,
            "card_token": "tok_visa",
        },
    )
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    return order


PUBLIC = [
    "/",
    "/categories/",
    "/categories/kitchen/",
    "/products/copper-kettle/",
    "/search/?q=kettle",
    "/cart/",
    "/promotions/",
    "/account/login/",
    "/account/register/",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_pages_render(client, shop, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b"Legacy Shop" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/account/",
        "/account/addresses/",
        "/orders/",
        "/checkout/",
        "/account/notifications/preferences/",
    ],
)
def test_customer_pages_send_strangers_to_login(client, shop, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/account/login/")


def test_customer_pages_render_after_an_order(client, shop, placed_order):
    number = placed_order.number
    for url in [
        "/account/",
        "/account/addresses/",
        "/orders/",
        f"/orders/{number}/",
        f"/orders/{number}/invoice/",
        "/checkout/",
        "/account/notifications/preferences/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert number.encode() in client.get("/orders/").content


def test_checkout_form_shows_the_decline_and_keeps_the_cart(client, shop):
    client.force_login(shop.customer)
    client.post(reverse("cart:add"), {"variant_id": shop.novel.pk})
    response = client.post(
        reverse("orders:checkout"),
        {
            "address_id": shop.address.pk,
            "shipping_method_id": shop.standard.pk,
            "card_token": "tok_declined",
        },
        follow=True,
    )
    assert b"declined" in response.content
    assert not Order.objects.exists()
    assert b"BK-DE-1" in client.get("/cart/").content


def test_customer_can_cancel_a_paid_order_and_the_stock_returns(client, shop, placed_order):
    assert shop.stock_of(shop.kettle) == 9
    client.post(reverse("orders:cancel", args=[placed_order.number]))
    placed_order.refresh_from_db()
    assert placed_order.status == "cancelled"
    assert shop.stock_of(shop.kettle) == 10


def test_register_logs_the_new_customer_in_with_a_profile(client, db):
    response = client.post(
        "/account/register/",
        {
            "username": "grace",
            "email": "grace@example.com",
            "password1": "navy-cobol-1906",
            "password2": "navy-cobol-1906",
        },
    )
    assert response.status_code == 302
    page = client.get("/account/")
    assert b"grace@example.com" in page.content and b"0 loyalty points" in page.content


def test_cart_coupon_form_reports_bad_codes(client, shop):
    response = client.post(reverse("cart:coupon"), {"code": "BOGUS"}, follow=True)
    assert b"not valid" in response.content
    response = client.post(reverse("cart:coupon"), {"code": "spring10"}, follow=True)
    assert b"SPRING10 applied" in response.content


def test_tracking_page_shows_a_shipment(client, shop, placed_order):
    Shipment.objects.create(order=placed_order, method=shop.standard, tracking_number="DHL0001")
    assert b"DHL0001" in client.get("/track/DHL0001/").content
    assert client.get("/track/NOPE/").status_code == 404


def test_back_office_is_for_staff(client, shop, placed_order):
    assert (
        client.get("/backoffice/reports/").status_code == 302
    )  # a customer is sent to the admin login
    client.force_login(shop.staff)
    dashboard = client.get("/backoffice/reports/")
    assert dashboard.status_code == 200 and b"Kitchen" in dashboard.content
    assert client.get("/backoffice/stock/").status_code == 200
    export = client.get("/backoffice/reports/sales-by-category.csv")
    assert export["Content-Type"] == "text/csv"
    assert export.content.decode().splitlines()[0] == "category_id,category,orders,units,revenue"
    assert client.get("/backoffice/reports/nonsense.csv").status_code == 404


def test_admin_lists_orders_for_a_superuser(admin_client, placed_order):
    assert placed_order.number.encode() in admin_client.get("/admin/orders/order/").content
    assert admin_client.get(f"/admin/orders/order/{placed_order.pk}/change/").status_code == 200
