from django.urls import path

from extracted.seam import views

app_name = "seam"
urlpatterns = [
    path("status/", views.status, name="status"),
    path("checksums/<str:aggregate>/", views.checksum_page, name="checksums"),
    path("ownership/<str:domain>/", views.set_ownership, name="ownership"),
]
