from django.urls import path

from legacy_monolith.cart import views

app_name = "cart"
urlpatterns = [
    path("", views.cart_detail, name="detail"),
    path("add/", views.add_item, name="add"),
    path("items/<int:variant_id>/update/", views.update_item, name="update"),
    path("items/<int:variant_id>/remove/", views.remove_item, name="remove"),
    path("coupon/", views.apply_coupon, name="coupon"),
]
