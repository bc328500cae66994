from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from legacy_monolith.core.utils import api_login_required, json_error, read_json
from legacy_monolith.notifications.models import NotificationPreference
from legacy_monolith.notifications.views import FIELDS


@csrf_exempt  # token-less legacy API
@require_http_methods(["GET", "PUT"])
@api_login_required
def preferences(request):
    pref, _ = NotificationPreference.objects.get_or_create(user=request.user)
    if request.method == "PUT":
        try:
            data = read_json(request)
        except ValueError as exc:
            return json_error(str(exc))
        unknown = set(data) - set(FIELDS)
        if unknown:
            return json_error(f"unknown fields: {', '.join(sorted(unknown))}", fields=list(FIELDS))
        if any(not isinstance(v, bool) for v in data.values()):
            return json_error("every preference is true or false")
        for field, value in data.items():
            setattr(pref, field, value)
        pref.save()
    return JsonResponse({field: getattr(pref, field) for field in FIELDS})
