from django.http import JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.core.utils import api_login_required
from legacy_monolith.payments.models import Payment


@require_GET
@api_login_required
def payment_list(request, number):
    payments = Payment.objects.filter(order__number=number, order__customer=request.user).prefetch_related("refunds")
    return JsonResponse({"order": number, "results": [
        {"reference": p.reference, "status": p.status, "amount": str(p.amount),
         "refunded": str(sum((r.amount for r in p.refunds.all()), start=0))}
        for p in payments
    ]})
