"""Settings of the sample shop monolith.

Embedded defaults (SQLite file, kombu's filesystem broker, mail to files) so that it runs on a
bare machine; DATABASE_URL and CELERY_BROKER_URL switch to real servers.
"""

import os
from pathlib import Path

import dj_database_url

from extracted.seam.broker import celery_settings

PACKAGE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FIGKIT_VAR_DIR", PACKAGE_DIR.parent / "var")).resolve()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "legacy-shop-insecure-dev-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "legacy_monolith.core",
    "legacy_monolith.accounts.apps.AccountsConfig",
    "legacy_monolith.catalog",
    "legacy_monolith.inventory",
    "legacy_monolith.cart",
    "legacy_monolith.orders.apps.OrdersConfig",
    "legacy_monolith.payments",
    "legacy_monolith.shipping",
    "legacy_monolith.promotions",
    "legacy_monolith.reviews.apps.ReviewsConfig",
    "legacy_monolith.notifications.apps.NotificationsConfig",
    "legacy_monolith.reporting",
    # The data seam: the catalog's changes go out through its outbox (docs/seam.md).
    "extracted.seam",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "legacy_monolith.core.middleware.RequestTimingMiddleware",
    # A write to a domain this side does not own, or one held by a flip: 409 or 503 + Retry-After.
    "extracted.seam.middleware.OwnershipErrors",
]

ROOT_URLCONF = "legacy_monolith.config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "legacy_monolith.cart.context_processors.cart_summary",
            ],
        },
    },
]

WSGI_APPLICATION = "legacy_monolith.config.wsgi.application"
ASGI_APPLICATION = "legacy_monolith.config.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'legacy_monolith.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the demo server read while a seed or a worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL;",
        # BEGIN IMMEDIATE: a transaction takes the write lock when it starts and waits for it
        # (up to timeout); a deferred one that read first fails at once with "database is
        # locked" when another process wrote meanwhile (the seam's inbox, relay and server).
        transaction_mode="IMMEDIATE",
        timeout=20,
    )

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = "Legacy Shop <orders@legacy-shop.example>"
SHOP_STAFF_EMAILS = ["stock@legacy-shop.example"]

# Celery: the filesystem transport needs no server; folders are created on start. The
# reliability settings (acks late, requeue on a lost worker, prefetch 1, confirms) are the seam's.
globals().update(celery_settings(VAR_DIR))
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "0") == "1"
CELERY_BEAT_SCHEDULE = {
    "sync-supplier-stock": {"task": "inventory.sync_all_suppliers", "schedule": 15 * 60},
    "daily-sales-snapshot": {"task": "reporting.build_daily_sales_snapshot", "schedule": 60 * 60},
    "purge-abandoned-carts": {"task": "cart.purge_abandoned_carts", "schedule": 6 * 60 * 60},
    # Checkouts whose driver died, or whose payment step waits for a retry (docs/saga.md).
    "resume-sagas": {"task": "seam.resume_sagas", "schedule": 5.0},
}

SHOP_CURRENCY = "EUR"
SHOP_FREE_SHIPPING_OVER = "75.00"
SHOP_LOW_STOCK_THRESHOLD = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"legacy_monolith": {"handlers": ["console"], "level": "INFO"}},
}

# Where the extracted services answer (docs/seam.md: finding each other).
CATALOG_URL = os.environ.get("CATALOG_URL", "http://127.0.0.1:8200")
# The order detail's catalog part: "join" (this database's catalog tables) or "compose" (the
# catalog service, asked in parallel within the deadline; docs/composition.md).
ORDER_DETAIL_READS = os.environ.get("ORDER_DETAIL_READS", "join")
COMPOSITION_TIMEOUT_S = float(os.environ.get("COMPOSITION_TIMEOUT_S", "0.3"))
COMPOSITION_BREAKER_OPEN_S = float(os.environ.get("COMPOSITION_BREAKER_OPEN_S", "2"))  # 0: off
PAYMENTS_URL = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8300")
PAYMENTS_CONNECT_TIMEOUT_S = float(os.environ.get("PAYMENTS_CONNECT_TIMEOUT_S", "1.0"))
PAYMENTS_READ_TIMEOUT_S = float(os.environ.get("PAYMENTS_READ_TIMEOUT_S", "3.0"))

# Checkout: "atomic" (one transaction, payments in-process) or "saga" (payments as a service,
# docs/saga.md). `manage.py switch checkout saga` changes it live; this is the value until then.
CHECKOUT_MODE = os.environ.get("CHECKOUT_MODE", "atomic")
CHECKOUT_SAGA_WAIT_S = float(os.environ.get("CHECKOUT_SAGA_WAIT_S", "8"))  # then it goes on in the background
CHECKOUT_PAYMENT_STEP_TIMEOUT_S = float(os.environ.get("CHECKOUT_PAYMENT_STEP_TIMEOUT_S", "10"))

SEAM = {
    "SERVICE": "monolith",
    "DOMAINS": {
        "catalog": {
            "spec": "legacy_monolith.catalog.seam.CATALOG",
            "role": "owner",
            "peer": "catalog",
            "peer_url": CATALOG_URL,
        },
    },
}
