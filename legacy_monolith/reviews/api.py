from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from legacy_monolith.catalog.models import Product
from legacy_monolith.core.utils import json_error, page_bounds, read_json
from legacy_monolith.reviews.models import Review


def review_json(review: Review) -> dict:
    return {"id": review.pk, "rating": review.rating, "title": review.title, "body": review.body,
            "author": review.author.first_name or review.author.username,
            "verified_purchase": review.verified_purchase, "created_at": review.created_at.isoformat()}


@csrf_exempt  # token-less legacy API
@require_http_methods(["GET", "POST"])
def product_reviews(request, slug):
    product = Product.objects.filter(slug=slug).first()
    if product is None:
        return json_error(f"no product {slug!r}", status=404)
    if request.method == "GET":
        reviews = Review.objects.filter(product__slug=slug, is_approved=True).select_related("author").order_by("-id")
        offset, limit = page_bounds(request, default_limit=20)
        return JsonResponse({"count": reviews.count(), "results": [review_json(r) for r in reviews[offset:offset + limit]]})
    if not request.user.is_authenticated:
        return json_error("log in first", status=401)
    try:
        data = read_json(request)
        rating = int(data.get("rating", 0))
    except (ValueError, TypeError) as exc:
        return json_error(str(exc))
    if not 1 <= rating <= 5:
        return json_error("rating must be 1 to 5")
    try:
        with transaction.atomic():  # a savepoint, so the duplicate leaves the request usable
            review = Review.objects.create(product=product, author=request.user, rating=rating,
                                           title=str(data.get("title", ""))[:120], body=str(data.get("body", "")))
    except IntegrityError:
        return json_error("you already reviewed this product", status=409)
    return JsonResponse(review_json(review), status=201)
