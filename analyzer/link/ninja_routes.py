"""django-ninja APIs as routes: each operation under the path Django includes the API at, the
routers it mounts, and the API's own pages (its root, the OpenAPI schema, the docs)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from analyzer.facts import Warning_

if TYPE_CHECKING:
    from analyzer.link.routes import RouteBuilder, Scope

_NINJA_PARAM = re.compile(r"\{(?:(\w+):)?(\w+)\}")


def ninja_path(path: str) -> str:
    """A django-ninja path as a Django pattern: "/items/{int:item_id}" -> "items/<int:item_id>"."""
    text = _NINJA_PARAM.sub(
        lambda m: f"<{m.group(1)}:{m.group(2)}>" if m.group(1) else f"<{m.group(2)}>", path
    )
    return text.lstrip("/")


class NinjaRoutes:
    def __init__(self, builder: RouteBuilder) -> None:
        self.builder = builder
        self.index = builder.index
        self.warnings = builder.warnings
        self.router_kinds = builder.router_kinds
        self.ninja_operations: dict[str, list] = {}  # NinjaAPI/Router qualname -> operations
        self.ninja_mounts: dict[str, list] = {}
        for facts in self.index.files:
            for operation in facts.ninja_operations:
                self.ninja_operations.setdefault(operation.owner, []).append(
                    (operation, facts.path)
                )
            for mount in facts.ninja_mounts:
                self.ninja_mounts.setdefault(mount.api, []).append((mount, facts.path))

    def expand(self, api: str, scope: Scope, file: str, line: int) -> None:
        # NinjaAPI's own routes (its defaults: the API root, the OpenAPI schema, the docs)
        module = api.rpartition(".")[0]
        for route, view in (("", "ninja.main.default_home"), ("openapi.json", "ninja.openapi.views.openapi_json"),
                            ("docs", "ninja.openapi.views.openapi_view")):  # fmt: skip
            self.builder.add(self.builder.join(scope.prefix, route), view, None, ("GET",), file,
                             line, app_module=module, conditional=scope.condition)  # fmt: skip
        self._ninja(api, scope, file, set())

    def is_api(self, qualname: str) -> bool:
        kind = self.index.resolve(self.router_kinds.get(qualname, "")) or self.router_kinds.get(
            qualname, ""
        )
        return kind.startswith("ninja.") or kind.endswith("NinjaAPI")

    def _ninja(
        self, owner: str, scope: Scope, file: str, seen: set[str], mounted: str = ""
    ) -> None:
        """A django-ninja API's operations, and those of the routers it mounts, under `prefix`.

        `mounted` is the ninja-side prefix so far; ninja joins the pieces with "/" and then
        collapses doubled slashes, and so does this."""
        if owner in seen:
            return
        seen.add(owner)
        for operation, op_file in self.ninja_operations.get(owner, []):
            route = ninja_path(
                re.sub("/+", "/", "/".join(p for p in (mounted, operation.path) if p))
            )
            # ninja serves every operation on one path from one Django pattern
            self.builder.add(self.builder.join(scope.prefix, route), operation.view, None, operation.methods,
                     op_file, operation.line, conditional=scope.condition, group=owner,
                     actions=tuple((m, operation.view) for m in operation.methods))  # fmt: skip
        for mount, mount_file in self.ninja_mounts.get(owner, []):
            kind, _, name = mount.router.partition(":")
            router = self.index.resolve(name) if kind == "q" else name
            if router not in self.ninja_operations and router not in self.ninja_mounts:
                self.warnings.append(Warning_(mount_file, f"add_router of {name} cannot be followed "
                                              "statically; its routes are left out", mount.line))  # fmt: skip
                continue
            self._ninja(
                router, scope, mount_file, seen, "/".join(p for p in (mounted, mount.prefix) if p)
            )
