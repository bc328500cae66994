"""What the catalog app sends to the catalog service once the service owns the catalog."""

from __future__ import annotations

import httpx
from celery import shared_task
from django.conf import settings

TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class RatingNotDelivered(Exception):
    pass


@shared_task(name="catalog.push_rating", bind=True, acks_late=True, max_retries=None)
def push_rating(self, slug: str, rating_avg: str, rating_count: int) -> int:
    """PATCH a product's rating (computed from the monolith's reviews) to the catalog service;
    retried with backoff until it lands, so a review approved after the flip is never lost.
    A later rating overwrites an earlier one: sending one twice changes nothing."""
    url = f"{settings.CATALOG_URL.rstrip('/')}/api/products/{slug}/"
    try:
        response = httpx.patch(url, json={"rating_avg": rating_avg, "rating_count": rating_count}, timeout=TIMEOUT)
        if response.status_code >= 500 or response.status_code == 409:
            raise RatingNotDelivered(f"{response.status_code} from {url}: {response.text[:200]}")
    except (httpx.HTTPError, RatingNotDelivered) as exc:
        raise self.retry(countdown=min(2**self.request.retries, 60), exc=exc) from None
    return response.status_code
