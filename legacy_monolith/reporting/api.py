from dataclasses import asdict

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from legacy_monolith.core.utils import api_staff_required, json_error
from legacy_monolith.reporting.views import REPORTS, run_report


@require_GET
@api_staff_required
def report(request, kind):
    try:
        rows = run_report(kind, request)
    except Http404:
        return json_error(f"no report {kind!r}", status=404, reports=sorted(REPORTS))
    return JsonResponse({"report": kind, "rows": [{k: str(v) if not isinstance(v, int) else v
                                                   for k, v in asdict(r).items()} for r in rows]})
