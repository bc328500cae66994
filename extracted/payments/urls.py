from django.urls import path

from extracted.payments.api import api
from extracted.payments.health import healthz, readyz

urlpatterns = [
    path("api/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
