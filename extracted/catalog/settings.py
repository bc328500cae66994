"""Settings of the catalog service.

Embedded defaults like the monolith's (a SQLite file under VAR_DIR, kombu's filesystem broker),
so that it runs on a bare machine; CATALOG_DATABASE_URL and CELERY_BROKER_URL switch to real
servers. DATABASE_URL is read too, for a deployment that gives the service a database of its own
under the conventional name: never point it at the monolith's database, whose tables share the
`catalog_` names and the `catalog` migration history with this service's.
"""

import os
from pathlib import Path

from extracted.seam.broker import celery_settings
from extracted.seam.serving import database

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("FIGKIT_VAR_DIR", REPO_DIR / "var")).resolve()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "catalog-service-insecure-dev-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    # Its static files let /api/docs render without a CDN.
    "ninja",
    "extracted.seam",
    "extracted.catalog.apps.CatalogConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A write to the catalog while the monolith owns it, or while a flip holds it: 409 or 503.
    "extracted.seam.middleware.OwnershipErrors",
]

ROOT_URLCONF = "extracted.catalog.urls"
WSGI_APPLICATION = "extracted.catalog.wsgi.application"
ASGI_APPLICATION = "extracted.catalog.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

DATABASE_URL = (
    os.environ.get("CATALOG_DATABASE_URL")
    or os.environ.get("DATABASE_URL")
    or f"sqlite:///{VAR_DIR / 'catalog.sqlite3'}"
)
DATABASES = {
    "default": database(DATABASE_URL, int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")))
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery on the broker the monolith uses, with the seam's delivery guarantees.
globals().update(celery_settings(VAR_DIR))

SEAM = {
    "SERVICE": "catalog",
    "DOMAINS": {
        "catalog": {
            "spec": "extracted.catalog.domain.CATALOG",
            "role": "follower",
            "peer": "monolith",
            "peer_url": os.environ.get("MONOLITH_URL", "http://127.0.0.1:8100"),
        },
    },
}

# The workshop's planted mismatch in the product detail (api.py, detail_price): "on" or "off"
# until the live switch `workshop-bug` is set (`manage.py switch workshop-bug off`).
WORKSHOP_BUG = os.environ.get("CATALOG_WORKSHOP_BUG", "off")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"extracted": {"handlers": ["console"], "level": "INFO"}},
}
