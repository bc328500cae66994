from django.urls import path, re_path

from legacy_monolith.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("categories/<slug:slug>/", views.category_detail, name="category-detail"),
    path("products/<slug:slug>/", views.ProductDetailView.as_view(), name="product-detail"),
    re_path(r"^search/?$", views.search, name="search"),
]
