"""The patterns of a few urlconfs that ship with Django and DRF, so including them gives real
routes of an external app instead of a catch-all. Each list is copied from the library's
``urls.py`` (Django 5.x, DRF 3.15); any other package outside the tree is a ``prefix*`` route."""

from __future__ import annotations

_LOGIN = (("login/", "login", ("GET", "POST")), ("logout/", "logout", ("POST",)))

KNOWN_URLCONFS: dict[str, tuple[tuple[str, str | None, tuple[str, ...] | None], ...]] = {
    "django.conf.urls.i18n": (("setlang/", "set_language", ("POST",)),),
    "rest_framework.urls": (  # app_name = "rest_framework"
        ("login/", "rest_framework:login", ("GET", "POST")),
        ("logout/", "rest_framework:logout", ("POST",)),
    ),
    "django.contrib.auth.urls": (
        *_LOGIN,
        ("password_change/", "password_change", ("GET", "POST")),
        ("password_change/done/", "password_change_done", ("GET",)),
        ("password_reset/", "password_reset", ("GET", "POST")),
        ("password_reset/done/", "password_reset_done", ("GET",)),
        ("reset/<uidb64>/<token>/", "password_reset_confirm", ("GET", "POST")),
        ("reset/done/", "password_reset_complete", ("GET",)),
    ),
}
