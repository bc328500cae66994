from django.urls import path

from legacy_monolith.shipping import views

app_name = "shipping"
urlpatterns = [path("track/<str:tracking_number>/", views.track, name="track")]
