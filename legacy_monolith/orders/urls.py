from django.urls import path

from legacy_monolith.orders import views
from legacy_monolith.payments import views as payment_views

app_name = "orders"
urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="list"),
    path("orders/<str:number>/", views.order_detail, name="detail"),
    path("orders/<str:number>/cancel/", views.cancel_order, name="cancel"),
    path("orders/<str:number>/return/", views.request_return, name="return"),
    # The invoice page lives with orders' URLs since 2019, when billing merged into payments.
    path("orders/<str:number>/invoice/", payment_views.invoice, name="invoice"),
    path("backoffice/orders/<str:number>/status/", views.staff_set_status, name="staff-status"),
]
