from django.urls import path

from legacy_monolith.notifications import views

app_name = "notifications"
urlpatterns = [path("preferences/", views.preferences, name="preferences")]
