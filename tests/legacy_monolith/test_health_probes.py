"""The monolith's liveness and readiness probes, as the extracted services have them: what the
stack waits on and what Kubernetes probes (docs/kubernetes.md)."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_healthz_says_ok_and_readyz_is_ready_with_database_migrations_and_broker(client):
    assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
        200,
        {"status": "ok"},
    )
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_the_broker_when_it_cannot_be_reached(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["broker"] and body["checks"]["database"] == "ok"
    assert "127.0.0.1:1" in body["checks"]["broker"]
