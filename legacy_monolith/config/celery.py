"""The monolith's Celery app. Broker from CELERY_BROKER_URL; default is kombu's filesystem transport."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")

app = Celery("legacy_monolith")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
