from django.contrib import admin

from legacy_monolith.reviews.models import Review, ReviewVote

admin.site.register(Review, list_display=("product", "author", "rating", "is_approved", "created_at"),
                    list_filter=("is_approved", "rating"), search_fields=("product__name", "author__email"))
admin.site.register(ReviewVote, list_display=("review", "user", "helpful"))
