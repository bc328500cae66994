"""The admin API on its own port: read and change the route table, history, metrics.

Bearer tokens from proxy.toml, compared in constant time; `read` tokens may look,
`admin` tokens may change. Every change names its author (the token's name) and why.
Every body is a pydantic model (unknown fields refused, no type coercion: `"false"` is
not a boolean). Every error, 404 and 405 included, is JSON `{"error": code, "detail":
one line}`; a 500 means a bug.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as Endpoint

from strangler_proxy import dashboard, gates, rollout, route_changes
from strangler_proxy.config import ProxyConfig, Scope
from strangler_proxy.errors import ProxyError, RouteConflict, RouteError, RouteNotFound, StoreError
from strangler_proxy.routing import ALL_ROUTES, Route
from strangler_proxy.store import RouteStore

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32  # a route export nests 4 levels; anything past this is not a route table

# The error code for each status, unless the handler names a more precise one.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    429: "too_many_attempts",
    413: "too_large",
    500: "internal",
    503: "store_unavailable",
}


class _Denied(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict | None = None
    ) -> None:
        self.status, self.message = status, message
        self.code = code or CODES.get(status, f"http_{status}")
        self.headers = headers or {}


class WrongTokens:
    """Wrong tokens per client address: `limit` within `seconds` lock that address out that long.

    A guessed token costs an attacker a minute per `limit` tries, and a typo costs nobody
    anything. Kept in the admin process, for at most MAX_CLIENTS addresses.
    """

    MAX_CLIENTS = 10_000

    def __init__(self, limit: int = 10, seconds: float = 60.0) -> None:
        self.limit, self.seconds = limit, seconds
        self._by_client: dict[str, list[float]] = {}

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        recent = self._recent(client)
        return self.seconds - (time.monotonic() - recent[0]) if len(recent) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        if len(self._by_client) >= self.MAX_CLIENTS:
            self._by_client.clear()
        self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> list[float]:
        horizon = time.monotonic() - self.seconds
        times = [t for t in self._by_client.get(client, ()) if t > horizon]
        self._by_client[client] = times
        return times


# --- the bodies ----------------------------------------------------------------------
class Body(BaseModel):
    """Every change body: strict types, no unknown fields, and an optional version guard."""

    model_config = ConfigDict(extra="forbid", strict=True)

    expect_version: Annotated[int, Field(ge=0)] | None = None


class AddRoute(Body):
    name: str
    match: str
    target: str
    methods: list[str] = Field(default_factory=list)  # or "GET,HEAD"
    header: str | None = None
    policy: dict[str, Any] | None = None
    mode: str | None = None  # the older shorthand for {"policy": {"mode": ...}}
    why: str

    @field_validator("methods", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value

    def route(self) -> Route:
        spec = self.model_dump(exclude={"why", "expect_version"}, exclude_none=True)
        return Route.from_dict(spec)


class UpdateRoute(Body):
    mode: str | None = None
    options: dict[str, Any] | None = None  # behaviours' settings updated; null turns one off
    policy: dict[str, Any] | None = None
    target: str | None = None
    why: str


class DeleteRoute(Body):
    why: str | None = None


class Rollback(Body):
    route: str = Field(min_length=1)
    why: str


class Login(Body):
    token: str = Field(min_length=1, max_length=4096)


class Promote(Body):
    why: str


class ResetDiff(Body):
    forget_noise: bool = False


class ImportRoutes(Body):
    routes: list[Any]  # each one is checked by Route.from_dict, which names it
    replace: bool = False
    why: str


B = TypeVar("B", bound=Body)


def _one_line(exc: ValidationError) -> str:
    """pydantic's errors as one line that names each field."""
    missing, unknown, other = [], [], []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            missing.append(where)
        elif error["type"] == "extra_forbidden":
            unknown.append(where)
        else:
            got = repr(error.get("input"))
            got = got if len(got) <= 40 else got[:37] + "..."
            msg = error["msg"][:1].lower() + error["msg"][1:]
            other.append(f"{where!r}: {msg} (got {got})")
    parts = []
    if unknown:
        parts.append(f"unknown field(s): {', '.join(unknown)}")
    if missing:
        parts.append(f"missing field(s): {', '.join(missing)}")
    parts.extend(other[:3])
    return "; ".join(parts)


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class AdminAPI:
    def __init__(
        self, config: ProxyConfig, store: RouteStore, secrets: dict[str, tuple[str, Scope]]
    ) -> None:
        self.config = config
        self.store = store
        self._secrets = [(s.encode(), name, scope) for s, (name, scope) in secrets.items()]
        self.upstreams = sorted(config.upstreams)
        self.applied_versions: Callable[[], list[int]] | None = None
        self.sessions = dashboard.Sessions()
        self.wrong_tokens = WrongTokens()

    # --- auth and bodies ---------------------------------------------------------------
    def _caller(self, request: Request, need: Scope) -> str:
        header = request.headers.get("authorization", "")
        if not header:
            session = self.sessions.get(request.cookies.get(dashboard.COOKIE))
            if session is not None:  # the dashboard: its cookie, and a CSRF token for changes
                if request.method not in ("GET", "HEAD") and not dashboard.csrf_ok(
                    request, session
                ):
                    raise _Denied(
                        403,
                        "missing or wrong X-CSRF-Token, or another origin: reload the dashboard",
                    )
                if need == "admin" and session.scope != "admin":
                    raise _Denied(
                        403,
                        f"token {session.name!r} may only read; changes need an admin-scope token",
                    )
                return session.name
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise _Denied(
                401, "send 'Authorization: Bearer TOKEN' (FIGKIT_ADMIN_TOKEN for the CLI)"
            )
        found = self._token(request, secret)
        if need == "admin" and found[1] != "admin":
            raise _Denied(
                403, f"token {found[0]!r} may only read; changes need an admin-scope token"
            )
        return found[0]

    def _token(self, request: Request, secret: str) -> tuple[str, Scope]:
        """The (name, scope) of a token; too many wrong ones from one address answer 429."""
        client = request.client.host if request.client else "-"
        wait = self.wrong_tokens.wait(client)
        if wait > 0:
            raise _Denied(
                429,
                f"too many wrong tokens from {client}: try again in {wait:.0f} s",
                "too_many_attempts",
                {"Retry-After": str(max(1, round(wait)))},
            )
        given = secret.strip().encode()
        found = None
        for known, name, scope in self._secrets:  # look at every token: no early exit to time
            if hmac.compare_digest(given, known):
                found = (name, scope)
        if found is None:
            self.wrong_tokens.failed(client)
            raise _Denied(401, "token not recognised")
        return found

    async def _body(self, request: Request, model: type[B]) -> B:
        chunks, size = [], 0
        async for chunk in request.stream():  # stop reading at the limit, not after it
            size += len(chunk)
            if size > MAX_BODY:
                raise _Denied(413, f"request body over {MAX_BODY} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        deep = _Denied(
            400, f"the request body nests deeper than {MAX_DEPTH} levels", "invalid_json"
        )
        try:
            data = json.loads(raw or b"{}")
        except RecursionError:  # json's C parser recurses once per level
            raise deep from None
        except ValueError:
            raise _Denied(400, "the request body is not JSON", "invalid_json") from None
        if _too_deep(data):
            raise deep
        if not isinstance(data, dict):
            raise _Denied(400, "the request body must be a JSON object", "invalid_body")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _Denied(400, _one_line(exc), "invalid_body") from None

    async def _change(
        self, who: str, body: Body, action: str, why: str, edit: Callable
    ) -> JSONResponse:
        def run():
            with self.store.change(
                who=who, why=why, action=action, expect_version=body.expect_version
            ) as tx:
                result = edit(tx)
            return tx.version, bool(tx.edits), result

        version, changed, result = await run_in_threadpool(run)
        # Answer once the change is live on this proxy's workers (or say it is not yet).
        rolled = await rollout.wait_until_live(self.applied_versions, version) if changed else {}
        return JSONResponse({"version": version, "changed": changed, **result, **rolled})

    async def _route(self, name: str) -> tuple[int, Route]:
        """The table's version and the route named, or RouteNotFound (a 404)."""
        snap = await run_in_threadpool(self.store.snapshot)
        route = next((r for r in snap.routes if r.name == name), None)
        if route is None:
            raise RouteNotFound(f"no route named {name!r}: `figkit routes list` shows the table")
        return snap.version, route

    # --- endpoints ---------------------------------------------------------------------
    async def list_routes(self, request: Request) -> Response:
        self._caller(request, "read")
        snap = await run_in_threadpool(self.store.snapshot)
        return JSONResponse({"version": snap.version, "routes": [r.to_dict() for r in snap.routes]})

    async def get_route(self, request: Request) -> Response:
        self._caller(request, "read")
        name = request.path_params["name"]
        snap = await run_in_threadpool(self.store.snapshot)
        for route in snap.routes:
            if route.name == name:
                return JSONResponse({"version": snap.version, "route": route.to_dict()})
        return _err(404, f"no route named {name!r}")

    async def route_stats(self, request: Request) -> Response:
        """Per target of one route: requests, errors, share, p50/p99, breaker (since start)."""
        from strangler_proxy import metrics
        from strangler_proxy.stats import route_stats

        self._caller(request, "read")
        name = request.path_params["name"]
        version, route = await self._route(name)
        stats = await run_in_threadpool(route_stats, metrics.registry(), name)
        return JSONResponse({**stats, "policy": route.policy.to_dict(), "version": version})

    async def add_route(self, request: Request) -> Response:
        who = self._caller(request, "admin")
        body = await self._body(request, AddRoute)
        route = body.route()
        response = await self._change(
            who,
            body,
            "add",
            body.why,
            lambda tx: {"route": route_changes.add(tx, route, self.upstreams).to_dict()},
        )
        response.status_code = 201
        return response

    async def update_route(self, request: Request) -> Response:
        who = self._caller(request, "admin")
        name = request.path_params["name"]
        body = await self._body(request, UpdateRoute)
        changes_policy = body.mode is not None or body.options is not None
        if not changes_policy and body.policy is None and body.target is None:
            raise _Denied(
                400,
                "give 'mode' (monolith|canary|service), 'options', 'policy' or 'target' (an upstream)",
            )
        if changes_policy and body.policy is not None:
            raise _Denied(400, "give 'mode' and 'options', or a whole 'policy', not both")

        entered_shadow = []

        def edit(tx):
            route = None
            before = tx.routes.get(name)
            if body.target is not None:
                route = route_changes.move(tx, name, body.target, self.upstreams)
            if changes_policy:
                route = route_changes.set_mode(tx, name, body.mode, body.options)
            if body.policy is not None:
                route = route_changes.set_policy(tx, name, body.policy)
            if route.policy.mode == "shadow" and (before is None or before.policy.mode != "shadow"):
                entered_shadow.append(name)
            return {"route": route.to_dict()}

        if body.mode is not None:
            what = "set-mode"
        elif body.options is not None:
            what = "set-options"
        elif body.policy is not None:
            what = "set-policy"
        else:
            what = ""
        action = "+".join(a for a in ("move" if body.target is not None else "", what) if a)
        response = await self._change(who, body, action, body.why, edit)
        if entered_shadow:  # a new shadow run: its comparison starts from zero
            await run_in_threadpool(self.store.reset_shadow, name)
        return response

    async def promote(self, request: Request) -> Response:
        """One step along monolith -> shadow -> canary ladder -> service, if the gate opens."""
        who = self._caller(request, "admin")
        name = request.path_params["name"]
        body = await self._body(request, Promote)
        gate = self.config.proxy.gates
        version, route = await self._route(name)
        step = gates.next_step(route, gate.ladder)
        figures = await run_in_threadpool(gates.measured, self.store, name, gate)
        reason = gates.verdict(route, figures, gate)
        if reason is not None:
            refused = gates.refuse(route, step, reason)
            return JSONResponse(
                {"error": "gate_closed", "detail": str(refused), "figures": figures},
                status_code=409,
            )

        def edit(tx):
            now = tx.routes.get(name)
            if now is None or now.policy != route.policy:
                raise RouteConflict(
                    f"route {name!r} changed while its gate was checked; look again and retry"
                )
            options = {"canary": {"percent": step.percent}} if step.percent is not None else None
            moved = route_changes.set_mode(tx, name, step.mode, options)
            return {"route": moved.to_dict(), "step": str(step), "figures": figures}

        why = f"{body.why} [{gates.summary(route, figures)}]"
        response = await self._change(who, body, "promote", why, edit)
        if step.mode == "shadow":
            await run_in_threadpool(self.store.reset_shadow, name)
        return response

    async def route_diff(self, request: Request) -> Response:
        """A shadow route's comparison: counts, learned noise, samples of mismatches."""
        self._caller(request, "read")
        name = request.path_params["name"]
        version, route = await self._route(name)
        report = await run_in_threadpool(self.store.shadow_report, name)
        window = await run_in_threadpool(gates.measured, self.store, name, self.config.proxy.gates)
        return JSONResponse({
            "route": name, "policy": route.policy.to_dict(), **report, "gate_window": window,
            "body_compared": not gates.body_unseen(route, window),
        })  # fmt: skip

    async def reset_diff(self, request: Request) -> Response:
        self._caller(request, "admin")
        name = request.path_params["name"]
        body = await self._body(request, ResetDiff)
        await self._route(name)  # a 404 for a name that is not a route, not a silent "reset"
        await run_in_threadpool(self.store.reset_shadow, name, body.forget_noise)
        return JSONResponse({"route": name, "reset": True, "forgot_noise": body.forget_noise})

    async def delete_route(self, request: Request) -> Response:
        who = self._caller(request, "admin")
        name = request.path_params["name"]
        body = await self._body(request, DeleteRoute)
        why = body.why or request.query_params.get("why", "")
        return await self._change(
            who, body, "remove", why, lambda tx: {"route": route_changes.remove(tx, name).to_dict()}
        )

    async def rollback(self, request: Request) -> Response:
        who = self._caller(request, "admin")
        body = await self._body(request, Rollback)
        target = None if body.route == ALL_ROUTES else body.route
        return await self._change(
            who,
            body,
            "rollback",
            body.why,
            lambda tx: {"routes": [r.to_dict() for r in route_changes.rollback(tx, target)]},
        )

    async def import_routes(self, request: Request) -> Response:
        who = self._caller(request, "admin")
        body = await self._body(request, ImportRoutes)
        return await self._change(
            who,
            body,
            "import",
            body.why,
            lambda tx: {
                "routes": [
                    r.to_dict()
                    for r in route_changes.import_routes(
                        tx, body.routes, self.upstreams, body.replace
                    )
                ]
            },
        )

    async def history(self, request: Request) -> Response:
        self._caller(request, "read")
        route = request.query_params.get("route") or None
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            raise _Denied(400, "'limit' must be a whole number") from None
        if not 1 <= limit <= 10_000:
            raise _Denied(400, "'limit' must be between 1 and 10000")
        rows = await run_in_threadpool(self.store.history, route, limit)
        return JSONResponse({"changes": [r.to_dict() for r in rows]})

    async def upstreams_(self, request: Request) -> Response:
        self._caller(request, "read")
        return JSONResponse(
            {
                "default": self.config.proxy.default_upstream,
                "upstreams": {
                    n: {"urls": u.urls} for n, u in sorted(self.config.upstreams.items())
                },
            }
        )

    async def login(self, request: Request) -> Response:
        """The dashboard's login: the token in a JSON body, a session cookie back."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Denied(415, 'send the token as JSON: {"token": "..."}', "unsupported_media_type")
        body = await self._body(request, Login)
        found = self._token(request, body.token)
        sid, session = self.sessions.create(*found)
        response = JSONResponse(
            {"name": session.name, "scope": session.scope, "csrf": session.csrf}
        )
        response.set_cookie(
            dashboard.COOKIE, sid, max_age=dashboard.SESSION_SECONDS, httponly=True,
            samesite="strict", secure=request.url.scheme == "https", path="/",
        )  # fmt: skip
        return response

    async def session(self, request: Request) -> Response:
        """Who the dashboard is logged in as (and its CSRF token), or {"logged_in": false}."""
        session = self.sessions.get(request.cookies.get(dashboard.COOKIE))
        if session is None:
            return JSONResponse({"logged_in": False})
        return JSONResponse(
            {"logged_in": True, "name": session.name, "scope": session.scope, "csrf": session.csrf}
        )

    async def logout(self, request: Request) -> Response:
        session = self.sessions.get(request.cookies.get(dashboard.COOKIE))
        if session is not None and not dashboard.csrf_ok(request, session):
            raise _Denied(403, "missing or wrong X-CSRF-Token")
        self.sessions.drop(request.cookies.get(dashboard.COOKIE))
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(dashboard.COOKIE, path="/")
        return response

    async def overview(self, request: Request) -> Response:
        """Everything the dashboard shows, in one read: routes, figures, shadow diffs, audit."""
        from strangler_proxy import metrics
        from strangler_proxy.stats import breaker_states, every_route

        self._caller(request, "read")

        def read() -> dict:
            snap = self.store.snapshot()
            registry = metrics.registry()
            stats = every_route(registry)
            routes = []
            for route in snap.routes:
                item = route.to_dict()
                item["stats"] = stats.get(route.name, {"requests": 0, "targets": {}})
                if route.policy.mode == "shadow":
                    report = self.store.shadow_report(route.name)
                    report["samples"] = report["samples"][:5]
                    item["shadow"] = report
                routes.append(item)
            return {
                "version": snap.version,
                "routes": routes,
                "breakers": breaker_states(registry),
                "history": [c.to_dict() for c in self.store.history(None, 30)],
                "ladder": self.config.proxy.gates.ladder,
            }

        return JSONResponse(await run_in_threadpool(read))

    async def metrics(self, request: Request) -> Response:
        from strangler_proxy.metrics import exposition

        body = await run_in_threadpool(exposition)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(self, request: Request) -> Response:
        try:
            version = await run_in_threadpool(self.store.version)
        except StoreError as exc:
            return _err(503, str(exc), "store_unavailable")
        return JSONResponse({"ok": True, "route_table_version": version})


def _err(
    status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    line = " ".join(detail.split()) or "no detail"
    return JSONResponse(
        {"error": code or CODES.get(status, f"http_{status}"), "detail": line},
        status_code=status,
        headers=headers,
    )


def create_admin_app(
    config: ProxyConfig,
    store: RouteStore,
    secrets: dict[str, tuple[str, Scope]],
    applied_versions: Callable[[], list[int]] | None = None,
) -> Starlette:
    """The admin app; `applied_versions` tells which table version each worker serves."""
    api = AdminAPI(config, store, secrets)
    api.applied_versions = applied_versions

    async def denied(request: Request, exc: _Denied) -> Response:
        response = _err(exc.status, exc.message, exc.code, exc.headers)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="figkit-admin"'
        return response

    async def route_error(request: Request, exc: RouteError) -> Response:
        return _err(exc.status, str(exc), "invalid_route" if exc.status == 400 else None)

    async def store_error(request: Request, exc: ProxyError) -> Response:
        return _err(503, str(exc), "store_unavailable")

    async def http_error(request: Request, exc: HTTPException) -> Response:
        """Starlette's own 404 (no such path) and 405 (method), as JSON like the rest."""
        detail = {
            404: f"no admin endpoint {request.url.path}; see docs/proxy.md (Admin API)",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        return _err(exc.status_code, detail, headers=dict(exc.headers or {}))

    async def bug(request: Request, exc: Exception) -> Response:
        return _err(500, "internal error (a bug): the admin API's log has the traceback")

    # Starlette types its handlers for any Exception; each of these takes its own kind.
    handlers: dict[Any, Any] = {
        _Denied: denied,
        RouteError: route_error,
        StoreError: store_error,
        HTTPException: http_error,
        Exception: bug,
    }
    return Starlette(
        routes=[
            Endpoint("/", dashboard.to_dashboard, methods=["GET"]),
            Endpoint("/dashboard", dashboard.page, methods=["GET"]),
            Endpoint("/dashboard/login", api.login, methods=["POST"]),
            Endpoint("/dashboard/logout", api.logout, methods=["POST"]),
            Endpoint("/dashboard/session", api.session, methods=["GET"]),
            Endpoint("/dashboard/{file}", dashboard.page, methods=["GET"]),
            Endpoint("/api/overview", api.overview, methods=["GET"]),
            Endpoint("/healthz", api.healthz),
            Endpoint("/metrics", api.metrics),
            Endpoint("/api/routes", api.list_routes, methods=["GET"]),
            Endpoint("/api/routes", api.add_route, methods=["POST"]),
            Endpoint("/api/routes/{name}", api.get_route, methods=["GET"]),
            Endpoint("/api/routes/{name}/stats", api.route_stats, methods=["GET"]),
            Endpoint("/api/routes/{name}/diff", api.route_diff, methods=["GET"]),
            Endpoint("/api/routes/{name}/diff/reset", api.reset_diff, methods=["POST"]),
            Endpoint("/api/routes/{name}/promote", api.promote, methods=["POST"]),
            Endpoint("/api/routes/{name}", api.update_route, methods=["PATCH"]),
            Endpoint("/api/routes/{name}", api.delete_route, methods=["DELETE"]),
            Endpoint("/api/rollback", api.rollback, methods=["POST"]),
            Endpoint("/api/import", api.import_routes, methods=["POST"]),
            Endpoint("/api/export", api.list_routes, methods=["GET"]),
            Endpoint("/api/history", api.history, methods=["GET"]),
            Endpoint("/api/upstreams", api.upstreams_, methods=["GET"]),
        ],
        exception_handlers=handlers,
    )
