"""The dashboard: one page on the admin port that shows every route live and moves them.

It is the admin API's own client. The page (index.html, app.js, style.css, all served
from here: no CDN, works without a network) polls `GET /api/overview` every two seconds
and changes routes with the same endpoints the CLI uses.

Login: the admin token is typed into a form and sent once, in a JSON body, to
`POST /dashboard/login`. It never goes in a URL and is not kept by the browser: the
answer sets a session cookie (HttpOnly, SameSite=Strict) and gives the page a CSRF token,
which every change must carry in `X-CSRF-Token` (the session's requests are checked
in `AdminAPI._caller`). Sessions live in the admin process's memory for `SESSION_SECONDS`.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

COOKIE = "figkit_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 1000
# The page loads only its own files and talks only to its own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


@dataclass
class Session:
    name: str  # the token's name: the author of every change made in this session
    scope: str
    csrf: str
    expires: float


class Sessions:
    """Logged-in dashboards, by the random id in their cookie."""

    def __init__(self) -> None:
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def create(self, name: str, scope: str) -> tuple[str, Session]:
        now = time.monotonic()
        for sid in [s for s, v in self._by_id.items() if v.expires < now]:
            del self._by_id[sid]
        while len(self._by_id) >= MAX_SESSIONS:
            self._by_id.popitem(last=False)
        sid = secrets.token_urlsafe(32)
        session = Session(name, scope, secrets.token_urlsafe(32), now + SESSION_SECONDS)
        self._by_id[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None or session.expires < time.monotonic():
            return None
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)


def csrf_ok(request: Request, session: Session) -> bool:
    """A change from a dashboard session carries its CSRF token and comes from this origin."""
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        return False
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host
    return True


def _file(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


async def page(request: Request) -> Response:
    name = request.path_params.get("file", "index.html")
    if name not in _FILES:
        return JSONResponse({"error": "not_found", "detail": f"no dashboard file {name}"}, 404)
    return Response(_file(name), media_type=_FILES[name], headers=SECURITY_HEADERS)


async def to_dashboard(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=303)
