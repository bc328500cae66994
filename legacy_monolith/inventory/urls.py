from django.urls import path

from legacy_monolith.inventory import views

app_name = "inventory"
urlpatterns = [path("", views.stock_overview, name="stock")]
