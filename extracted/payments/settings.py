"""Settings of the payments service: a SQLite file under VAR_DIR by default, PostgreSQL through
PAYMENTS_DATABASE_URL (or DATABASE_URL, for a deployment that gives it a database of its own)."""

import os
from pathlib import Path

from extracted.seam.serving import database

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("FIGKIT_VAR_DIR", REPO_DIR / "var")).resolve()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "payments-service-insecure-dev-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "ninja",  # its static files let /api/docs render without a CDN
    "extracted.payments.apps.PaymentsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Every POST to the API needs an Idempotency-Key (extracted/payments/idempotency.py).
    "extracted.payments.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "extracted.payments.urls"
ASGI_APPLICATION = "extracted.payments.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {},
    },
]

DATABASE_URL = (
    os.environ.get("PAYMENTS_DATABASE_URL")
    or os.environ.get("DATABASE_URL")
    or f"sqlite:///{VAR_DIR / 'payments.sqlite3'}"
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

# How long a request may hold its idempotency key before a retry with the same key may take it
# over (a server killed mid-request must not block the key for ever). Longer than any request
# runs: the sandbox's slowest card answers in 10 s. A request that outruns it anyway has its work
# rolled back when it ends (keystore.py), so it is never done twice.
# And how long keys are kept for retries (`manage.py prune_idempotency_keys` forgets older ones).
PAYMENTS_KEY_LEASE_S = float(os.environ.get("PAYMENTS_KEY_LEASE_S", "30"))
PAYMENTS_KEY_RETENTION_HOURS = int(os.environ.get("PAYMENTS_KEY_RETENTION_HOURS", "24"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"extracted": {"handlers": ["console"], "level": "INFO"}},
}
