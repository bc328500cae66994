"""The catalog service's Celery app: its worker runs the seam's inbox task
(`celery -A extracted.catalog worker`)."""

import os

from celery import Celery

from extracted.seam.broker import make_filesystem_broker_folders

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.catalog.settings")

app = Celery("catalog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _on_configure(sender, **kwargs):
    make_filesystem_broker_folders(sender.conf)
