from django.urls import path

from legacy_monolith.promotions import views

app_name = "promotions"
urlpatterns = [path("", views.current_promotions, name="current")]
