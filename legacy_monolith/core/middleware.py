import logging
import time

logger = logging.getLogger("legacy_monolith.requests")


class RequestTimingMiddleware:
    """Adds Server-Timing so slow pages show up in the browser's dev tools."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response
