"""Ownership errors as HTTP answers: a write to a domain this side follows is a 409 that names the
owner; a write while a flip holds the domain is a 503 with Retry-After, which clients and the
strangler proxy know to retry. Both roll back with the request's transaction."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from extracted.seam.ownership import NotOwner, WritesHeld


class OwnershipErrors:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, WritesHeld):
            response = JsonResponse({"error": str(exception)}, status=503)
            response["Retry-After"] = str(exception.retry_after)
            return response
        if isinstance(exception, NotOwner):
            return JsonResponse({"error": str(exception)}, status=409)
        return None
