"""The admin API on its own port: read and change the route table, history, metrics.

Bearer tokens from proxy.toml, compared in constant time; `read` tokens may look,
`admin` tokens may change. Every change names its author (the token's name) and why.
Bad input is a 4xx with {"error": ...}; a 500 means a bug.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as Endpoint

from strangler_proxy import rollout, route_changes
from strangler_proxy.config import ProxyConfig, Scope
from strangler_proxy.errors import ProxyError, RouteError, StoreError
from strangler_proxy.routing import Route
from strangler_proxy.store import RouteStore

MAX_BODY = 1024 * 1024


class _Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class AdminAPI:
    def __init__(
        self, config: ProxyConfig, store: RouteStore, secrets: dict[str, tuple[str, Scope]]
    ) -> None:
        self.config = config
        self.store = store
        self._secrets = [(s.encode(), name, scope) for s, (name, scope) in secrets.items()]
        self.upstreams = sorted(config.upstreams)
        self.applied_versions: Callable[[], list[int]] | None = None

    # --- auth and bodies ---------------------------------------------------------------
    def _caller(self, request: Request, need: Scope) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise _Denied(
                401, "send 'Authorization: Bearer TOKEN' (FIGKIT_ADMIN_TOKEN for the CLI)"
            )
        given = secret.strip().encode()
        found = None
        for known, name, scope in self._secrets:  # look at every token: no early exit to time
            if hmac.compare_digest(given, known):
                found = (name, scope)
        if found is None:
            raise _Denied(401, "token not recognised")
        if need == "admin" and found[1] != "admin":
            raise _Denied(
                403, f"token {found[0]!r} may only read; changes need an admin-scope token"
            )
        request.state.who = found[0]
        return found[0]

    async def _body(
        self, request: Request, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
    ) -> dict:
        chunks, size = [], 0
        async for chunk in request.stream():  # stop reading at the limit, not after it
            size += len(chunk)
            if size > MAX_BODY:
                raise _Denied(413, f"request body over {MAX_BODY} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise _Denied(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise _Denied(400, "the request body must be a JSON object")
        expect = data.pop("expect_version", None)
        if expect is not None and (
            not isinstance(expect, int) or isinstance(expect, bool) or expect < 0
        ):
            raise _Denied(400, "'expect_version' must be a route table version (a whole number)")
        request.state.expect_version = expect
        unknown = set(data) - allowed
        if unknown:
            raise _Denied(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        missing = required - set(data)
        if missing:
            raise _Denied(400, f"missing field(s): {', '.join(sorted(missing))}")
        if "why" in data and not isinstance(data["why"], str):
            raise _Denied(400, "'why' must be a string")
        return data

    async def _change(
        self, request: Request, action: str, why: str, edit: Callable
    ) -> JSONResponse:
        who = request.state.who  # the endpoint checked the admin token before reading the body

        def run():
            expect = getattr(request.state, "expect_version", None)
            with self.store.change(who=who, why=why, action=action, expect_version=expect) as tx:
                result = edit(tx)
            return tx.version, bool(tx.edits), result

        version, changed, result = await run_in_threadpool(run)
        # Answer once the change is live on this proxy's workers (or say it is not yet).
        rolled = await rollout.wait_until_live(self.applied_versions, version) if changed else {}
        return JSONResponse({"version": version, "changed": changed, **result, **rolled})

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

    async def add_route(self, request: Request) -> Response:
        self._caller(request, "admin")
        data = await self._body(
            request, {"name", "match", "methods", "header", "target", "mode", "why"}, {"why"}
        )
        why = data.pop("why")
        route = Route.from_dict(data)
        response = await self._change(
            request,
            "add",
            why,
            lambda tx: {"route": route_changes.add(tx, route, self.upstreams).to_dict()},
        )
        response.status_code = 201
        return response

    async def update_route(self, request: Request) -> Response:
        self._caller(request, "admin")
        name = request.path_params["name"]
        data = await self._body(request, {"mode", "target", "why"}, {"why"})
        if "mode" not in data and "target" not in data:
            raise _Denied(400, "give 'mode' (monolith|service) or 'target' (an upstream), or both")

        def edit(tx):
            route = None
            if "target" in data:
                route = route_changes.move(tx, name, str(data["target"]), self.upstreams)
            if "mode" in data:
                route = route_changes.set_mode(tx, name, str(data["mode"]))
            return {"route": route.to_dict()}

        action = (
            "set-mode"
            if "target" not in data
            else ("move" if "mode" not in data else "move+set-mode")
        )
        return await self._change(request, action, data["why"], edit)

    async def delete_route(self, request: Request) -> Response:
        self._caller(request, "admin")
        name = request.path_params["name"]
        data = await self._body(request, {"why"})
        why = data.get("why") or request.query_params.get("why", "")
        return await self._change(
            request, "remove", why, lambda tx: {"route": route_changes.remove(tx, name).to_dict()}
        )

    async def rollback(self, request: Request) -> Response:
        self._caller(request, "admin")
        data = await self._body(request, {"route", "why"}, {"route", "why"})
        name = data["route"]
        if not isinstance(name, str) or not name:
            raise _Denied(400, "'route' must be a route name, or 'all'")
        target = None if name == "all" else name
        return await self._change(
            request,
            "rollback",
            data["why"],
            lambda tx: {"routes": [r.to_dict() for r in route_changes.rollback(tx, target)]},
        )

    async def import_routes(self, request: Request) -> Response:
        self._caller(request, "admin")
        data = await self._body(request, {"routes", "replace", "why"}, {"routes", "why"})
        if not isinstance(data["routes"], list):
            raise _Denied(
                400, "'routes' must be a list of routes, as `figkit routes export` prints"
            )
        return await self._change(
            request,
            "import",
            data["why"],
            lambda tx: {
                "routes": [
                    r.to_dict()
                    for r in route_changes.import_routes(
                        tx, data["routes"], self.upstreams, bool(data.get("replace"))
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

    async def metrics(self, request: Request) -> Response:
        from strangler_proxy.metrics import exposition

        body = await run_in_threadpool(exposition)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(self, request: Request) -> Response:
        try:
            version = await run_in_threadpool(self.store.version)
        except StoreError as exc:
            return _err(503, str(exc))
        return JSONResponse({"ok": True, "route_table_version": version})


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


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
        response = _err(exc.status, exc.message)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="figkit-admin"'
        return response

    async def route_error(request: Request, exc: RouteError) -> Response:
        return _err(exc.status, str(exc))

    async def store_error(request: Request, exc: ProxyError) -> Response:
        return _err(503, str(exc))

    # Starlette types its handlers for any Exception; each of these takes its own kind.
    handlers: dict[Any, Any] = {_Denied: denied, RouteError: route_error, StoreError: store_error}
    return Starlette(
        routes=[
            Endpoint("/healthz", api.healthz),
            Endpoint("/metrics", api.metrics),
            Endpoint("/api/routes", api.list_routes, methods=["GET"]),
            Endpoint("/api/routes", api.add_route, methods=["POST"]),
            Endpoint("/api/routes/{name}", api.get_route, methods=["GET"]),
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
