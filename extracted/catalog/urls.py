from django.urls import include, path, re_path

from extracted.catalog import health, views
from extracted.catalog.api import api

urlpatterns = [
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The data seam's checksums, status and ownership endpoints: the monolith reconciles and
    # flips through them (docs/seam.md).
    path("seam/", include("extracted.seam.urls")),
    # The catalogue's pages, at the monolith's URLs (legacy_monolith/catalog/urls.py).
    path("categories/", views.category_list, name="category-list"),
    path("categories/<slug:slug>/", views.category_detail, name="category-detail"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    re_path(r"^search/?$", views.search, name="search"),
]
