from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from legacy_monolith.catalog.models import Product
from legacy_monolith.orders.models import OrderLine
from legacy_monolith.reviews.models import Review, ReviewVote


@login_required
@require_POST
def write_review(request, slug):
    product = get_object_or_404(Product, slug=slug)
    try:
        rating = int(request.POST.get("rating", 0))
    except ValueError:
        rating = 0
    if not 1 <= rating <= 5:
        messages.error(request, "Pick a rating from 1 to 5.")
        return redirect(product)
    bought = OrderLine.objects.filter(order__customer=request.user, variant__product=product,
                                      order__status="delivered").first()
    try:
        with transaction.atomic():
            Review.objects.create(product=product, author=request.user, order_line=bought, rating=rating,
                                  title=request.POST.get("title", "")[:120], body=request.POST.get("body", ""))
    except IntegrityError:
        messages.error(request, "You already reviewed this product.")
    return redirect(product)


@login_required
@require_POST
def vote(request, pk):
    review = get_object_or_404(Review, pk=pk)
    ReviewVote.objects.update_or_create(review=review, user=request.user,
                                        defaults={"helpful": request.POST.get("helpful") == "1"})
    return redirect(review.product)
