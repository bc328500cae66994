import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.catalog.settings")
# The only static files are the OpenAPI page's (ninja's Swagger UI): served by Django itself,
# whatever DEBUG says, so that /api/docs works without a web server or a CDN.
application = ASGIStaticFilesHandler(get_asgi_application())
