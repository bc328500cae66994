from django.contrib import admin
from django.urls import include, path

from legacy_monolith.core import health

urlpatterns = [
    path("admin/", admin.site.urls),
    # Liveness and readiness (database, migrations, broker), as the extracted services have them.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The data seam's checksums, status and ownership endpoints (docs/seam.md).
    path("seam/", include("extracted.seam.urls")),
    path("api/", include(("legacy_monolith.config.api_urls", "api"))),
    path("account/", include("legacy_monolith.accounts.urls")),
    path("account/notifications/", include("legacy_monolith.notifications.urls")),
    path("cart/", include("legacy_monolith.cart.urls")),
    path("promotions/", include("legacy_monolith.promotions.urls")),
    path("backoffice/reports/", include("legacy_monolith.reporting.urls")),
    path("backoffice/stock/", include("legacy_monolith.inventory.urls")),
    path("", include("legacy_monolith.shipping.urls")),
    path("", include("legacy_monolith.reviews.urls")),
    path("", include("legacy_monolith.orders.urls")),
    path("", include("legacy_monolith.catalog.urls")),
]
