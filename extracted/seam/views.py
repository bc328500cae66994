"""The seam's HTTP face on each side, mounted at /seam/ (include("extracted.seam.urls")):
checksums for reconciliation, status for a flip's drain, and ownership changes.

Changes (POST) need the bearer token in settings.SEAM['TOKEN'] (env SEAM_TOKEN); reads are open
on the internal network like /readyz, and carry no business data beyond hashes and counts.
"""

from __future__ import annotations

import hmac
import json

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from extracted.seam import checksums, ownership
from extracted.seam import settings as seam_settings
from extracted.seam.events import SeamError
from extracted.seam.models import DeadLetter, InboxEvent, OutboxEvent


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_GET
def checksum_page(request: HttpRequest, aggregate: str) -> JsonResponse:
    try:
        config = seam_settings.domain_of_aggregate(aggregate)
        spec = config.spec.aggregate(aggregate)
        limit = min(max(int(request.GET.get("limit", checksums.PAGE)), 1), 5000)
    except SeamError as exc:
        return _error(str(exc), 404)
    except ValueError:
        return _error("limit must be a whole number", 400)
    ids = request.GET.get("ids")
    chosen = [i for i in ids.split(",") if i] if ids is not None else None
    try:
        page = checksums.page(spec, after=request.GET.get("after"), limit=limit, ids=chosen)
    except (ValueError, TypeError, ValidationError):  # a key this aggregate cannot look up
        return _error(f"ids and after must be keys of {aggregate} (comma-separated)", 400)
    return JsonResponse(page)


@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """What a flip waits for: this side's unsent outbox, and the last events it applied per source."""
    domains = {}
    for config in seam_settings.domains():
        row = ownership.current(config.name)
        last_sent = (
            OutboxEvent.objects.filter(domain=config.name, sent_at__isnull=False).order_by("-seq")
            .values_list("event_id", flat=True).first()
        )  # fmt: skip
        domains[config.name] = {
            "role": row.role,
            "epoch": row.epoch,
            "held": row.held_until is not None,
            "unsent": OutboxEvent.objects.filter(domain=config.name, sent_at__isnull=True).count(),
            "last_sent": str(last_sent) if last_sent else None,
        }
    if expect := request.GET.get("applied"):
        try:
            domains_applied = (
                InboxEvent.objects.filter(event_id=expect).exists()
                or DeadLetter.objects.filter(event_id=expect).exists()
            )
        except ValidationError:
            return _error("applied= takes an event id (a UUID)", 400)
    return JsonResponse(
        {
            "service": seam_settings.service_name(),
            "domains": domains,
            "inbox": {"events": InboxEvent.objects.count()},
            "dead_letters": DeadLetter.objects.filter(resolved_at__isnull=True).count(),
            **({"applied": domains_applied} if expect else {}),
        }
    )


@csrf_exempt
@require_POST
def set_ownership(request: HttpRequest, domain: str) -> JsonResponse:
    token = seam_settings.token()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(token, given):
        return _error("a bearer token (SEAM_TOKEN) is needed to change ownership", 401)
    try:
        body = json.loads(request.body or b"{}")
        row = ownership.current(domain)
        if "hold_until" in body:
            from django.utils.dateparse import parse_datetime

            until = parse_datetime(body["hold_until"]) if body["hold_until"] else None
            if until is None:
                ownership.release(domain)
            else:
                ownership.hold(domain, until)
        if "role" in body:
            epoch = int(body.get("epoch", row.epoch + 1))
            if epoch < row.epoch:
                return _error(
                    f"epoch {epoch} is older than this side's {row.epoch}: a newer flip won", 409
                )
            ownership.set_role(domain, body["role"], epoch)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        return _error(f"the body must be JSON with role, epoch or hold_until: {exc}", 400)
    except SeamError as exc:
        return _error(str(exc), 404 if "no domain" in str(exc) else 400)
    row = ownership.current(domain)
    return JsonResponse(
        {"domain": domain, "role": row.role, "epoch": row.epoch, "held": row.held_until is not None}
    )
