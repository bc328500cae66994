from django.shortcuts import render
from django.utils import timezone

from legacy_monolith.promotions.models import Promotion


def current_promotions(request):
    now = timezone.now()
    promotions = Promotion.objects.filter(starts_at__lte=now, ends_at__gte=now).prefetch_related("categories")
    return render(request, "promotions/current.html", {"promotions": promotions})
