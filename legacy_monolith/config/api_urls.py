"""The JSON API under /api/: each app's endpoints, in its own namespace."""

from django.urls import include, path

from legacy_monolith.cart import api as cart_api
from legacy_monolith.catalog import api as catalog_api
from legacy_monolith.core import api as core_api
from legacy_monolith.inventory import api as inventory_api
from legacy_monolith.notifications import api as notifications_api
from legacy_monolith.orders import api as orders_api
from legacy_monolith.payments import api as payments_api
from legacy_monolith.promotions import api as promotions_api
from legacy_monolith.reporting import api as reporting_api
from legacy_monolith.reviews import api as reviews_api
from legacy_monolith.shipping import api as shipping_api

catalog_patterns = ([
    path("products/", catalog_api.product_list, name="product-list"),
    path("products/<slug:slug>/", catalog_api.product_detail, name="product-detail"),
    path("products/<slug:slug>/availability/", catalog_api.product_availability, name="availability"),
    path("products/<slug:slug>/reviews/", reviews_api.product_reviews, name="product-reviews"),
    path("categories/", catalog_api.category_list, name="category-list"),
], "catalog")

cart_patterns = ([
    path("", cart_api.cart_view, name="cart"),
    path("items/", cart_api.add_item, name="add"),
    path("items/<str:sku>/", cart_api.remove_item, name="remove"),
], "cart")

order_patterns = ([
    path("checkout/", orders_api.checkout, name="checkout"),
    path("orders/", orders_api.order_list, name="order-list"),
    path("orders/<str:number>/", orders_api.order_detail, name="order-detail"),
    path("orders/<str:number>/payments/", payments_api.payment_list, name="payments"),
], "orders")

shipping_patterns = ([
    path("methods/", shipping_api.method_list, name="methods"),
    path("quote/", shipping_api.shipping_quote, name="quote"),
    path("shipments/<str:tracking_number>/", shipping_api.shipment_detail, name="shipment"),
], "shipping")

backoffice_patterns = ([
    path("reports/<slug:kind>/", reporting_api.report, name="report"),
    path("stock/<str:sku>/", inventory_api.stock_for_sku, name="stock"),
], "backoffice")

urlpatterns = [
    path("health", core_api.health, name="health"),
    path("", include(catalog_patterns)),
    path("cart/", include(cart_patterns)),
    path("", include(order_patterns)),
    path("shipping/", include(shipping_patterns)),
    path("coupons/<str:code>/", promotions_api.validate_coupon, name="coupon"),
    path("notifications/preferences/", notifications_api.preferences, name="notification-preferences"),
    path("backoffice/", include(backoffice_patterns)),
]
