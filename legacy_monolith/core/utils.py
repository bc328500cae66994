"""The module every app imports: money, numbering, settings lookups, JSON helpers, audit.

It is the kind of grab-bag a monolith grows over years; the analyzer should see that
everything depends on it.
"""

from __future__ import annotations

import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.utils import timezone

CENTS = Decimal("0.01")


def money(value: Any) -> Decimal:
    """Round to cents, half up, the way the accountants want it."""
    return Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)


def format_money(value: Any) -> str:
    return f"{money(value):,.2f} {settings.SHOP_CURRENCY}"


def generate_number(prefix: str) -> str:
    """Human-friendly identifiers: ORD-20260101-7F3A9C01E2 (40 random bits a day: no birthday clashes)."""
    return f"{prefix}-{timezone.now():%Y%m%d}-{secrets.token_hex(5).upper()}"


def site_setting(key: str, default: str = "") -> str:
    from legacy_monolith.core.models import SiteSetting

    row = SiteSetting.objects.filter(key=key).only("value").first()
    return row.value if row else default


def client_ip(request) -> str:
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR", "")


def paginate(queryset, request, per_page: int = 24):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def json_error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def page_bounds(request, default_limit: int = 50, max_limit: int = 200) -> tuple[int, int]:
    """offset/limit from the query string, clamped; bad numbers fall back to defaults."""
    try:
        limit = min(max(int(request.GET.get("limit", default_limit)), 1), max_limit)
    except ValueError:
        limit = default_limit
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    return offset, limit


def audit(actor, action: str, obj, message: str = "") -> None:
    from django.contrib.contenttypes.models import ContentType

    from legacy_monolith.core.models import AuditEntry

    AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        message=message,
    )


def read_json(request) -> dict[str, Any]:
    """The request body as a JSON object; ValueError with a message a client can act on."""
    import json

    try:
        data = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def api_login_required(view):
    """The JSON API's login check: 401 JSON instead of a redirect to the login page."""
    from functools import wraps

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return json_error("log in first", status=401)
        return view(request, *args, **kwargs)

    return wrapper


def api_staff_required(view):
    from functools import wraps

    @api_login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            return json_error("staff only", status=403)
        return view(request, *args, **kwargs)

    return wrapper
