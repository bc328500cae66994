from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError as exc:
        database = f"error: {exc.__class__.__name__}"
    ok = database == "ok"
    return JsonResponse({"status": "ok" if ok else "degraded", "database": database}, status=200 if ok else 503)
