import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402  (needs the app registry loaded above)

if settings.DEBUG:
    # The admin's CSS and JS, served by Django itself while no web server sits in front.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
