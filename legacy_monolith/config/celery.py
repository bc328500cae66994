"""The monolith's Celery app. Broker from CELERY_BROKER_URL; default is kombu's filesystem transport."""

import os

from celery import Celery

from extracted.seam.broker import make_filesystem_broker_folders

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")

app = Celery("legacy_monolith")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _on_configure(sender, **kwargs):
    make_filesystem_broker_folders(sender.conf)
