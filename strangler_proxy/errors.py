"""The proxy's one exception tree: each message says what went wrong and what to do."""

from __future__ import annotations


class ProxyError(Exception):
    """Base of every error the proxy reports to a user as one line."""


class ConfigError(ProxyError):
    """proxy.toml is missing, malformed, or names something that does not exist."""


class RouteError(ProxyError):
    """A route or a change to the route table is invalid (bad pattern, unknown upstream...)."""

    status = 400


class RouteNotFound(RouteError):
    status = 404


class RouteConflict(RouteError):
    """The change clashes with the table as it is (duplicate name, stale version)."""

    status = 409


class StoreError(ProxyError):
    """The route table store cannot be opened or written."""


class BadPath(ProxyError):
    """A request path that cannot be normalised safely (NUL byte, not absolute)."""


class GateClosed(RouteConflict):
    """`promote` refused: a figure of the route is over its threshold, or too few were measured."""

    status = 409
