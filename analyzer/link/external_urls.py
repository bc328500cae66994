"""Includes of packages outside the analysed tree, as routes of an external app: the known
patterns of a few urlconfs that ship with Django and DRF (each list copied from the library's
``urls.py``, Django 5.x, DRF 3.15), or one catch-all ``prefix*`` route and a warning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.facts import Warning_

if TYPE_CHECKING:
    from analyzer.link.routes import RouteBuilder, Scope

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


def add_external(builder: RouteBuilder, name: str, file: str, line: int, scope: Scope) -> None:
    """The routes of an include of `name`, a package outside the analysed tree."""
    installed = builder.locator.external_app_of(name)
    if name == "django.contrib.admin":
        app = "admin"
    else:
        app = installed.label if installed is not None else name.split(".", 1)[0]
    known = KNOWN_URLCONFS.get(name)
    if known is not None:
        for pattern, route_name, methods in known:
            builder.add(builder.join(scope.prefix, pattern), name, scope.qualify(route_name),
                        methods, file, line, conditional=scope.condition, external=True,
                        app=app)  # fmt: skip
        return
    builder.add(f"{scope.prefix}*", name, None, None, file, line,
                conditional=scope.condition, external=True, app=app)  # fmt: skip
    if name == "django.contrib.admin":
        return  # the admin's pages are its models' and change with them: the prefix is the route
    builder.warnings.append(Warning_(file, f"include of {name} (a package outside the analysed "
                                     f"files): its patterns are unknown, listed as one catch-all "
                                     f"route {scope.prefix}*; send that whole prefix to the "
                                     "service that keeps the package", line))  # fmt: skip
