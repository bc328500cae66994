from django.urls import path

from legacy_monolith.reviews import views

app_name = "reviews"
urlpatterns = [
    path("products/<slug:slug>/review/", views.write_review, name="write"),
    path("reviews/<int:pk>/vote/", views.vote, name="vote"),
]
