import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.payments.settings")
# The only static files are the OpenAPI page's: served by Django itself, whatever DEBUG says.
application = ASGIStaticFilesHandler(get_asgi_application())
