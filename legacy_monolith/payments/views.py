from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from legacy_monolith.payments.models import Invoice


@login_required
def invoice(request, number):
    invoice = get_object_or_404(
        Invoice.objects.select_related("order__shipping_address").prefetch_related("order__lines"),
        order__number=number, order__customer=request.user,
    )
    return render(request, "payments/invoice.html", {"invoice": invoice, "order": invoice.order})
