from django.urls import path, re_path

from legacy_monolith.reporting import views

app_name = "reporting"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    re_path(r"^(?P<kind>[a-z-]+)\.csv$", views.export_csv, name="export"),
]
