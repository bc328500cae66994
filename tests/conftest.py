import pytest
from django.conf import settings

from tests import services


def pytest_collection_modifyitems(config, items):
    """When the suite runs against PostgreSQL (DATABASE_URL), the server must be there."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    db = settings.DATABASES["default"]
    service = services.Service(
        "PostgreSQL",
        f"postgresql://{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}",
        "DATABASE_URL",
    )
    if service.reachable():
        return
    if services.under_ci():
        pytest.exit(
            f"{service.missing_reason()} (CI=true: real-service tests may not skip)", returncode=1
        )
    skip = pytest.mark.skip(reason=service.missing_reason())
    for item in items:
        item.add_marker(skip)


@pytest.fixture
def redis_url() -> str:
    return services.require(services.REDIS)


@pytest.fixture
def rabbitmq_url():
    url = services.require(services.RABBITMQ)
    with services.rabbitmq_in_use():  # a restart of the broker by another session waits for us
        yield url
