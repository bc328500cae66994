"""proxy.toml: where the proxy listens, its upstreams, its route store and its tokens.

Validated on the way in; any mistake is one ConfigError line naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from strangler_proxy.errors import ConfigError

Scope = Literal["read", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8000")
    return value


class RollbackConfig(_Strict):
    """`[proxy.rollback]`: a route in canary or service mode goes back to the monolith by itself.

    When, over the last `window_seconds`, at least `min_requests` reached the route's
    service and more than `error_rate` of them failed (no answer, or a 5xx), the worker
    that saw it rolls the route back, recorded in the audit log with the figures, as
    Flagger does for a failing canary. `error_rate = 0` turns this off.
    """

    error_rate: float = Field(0.2, ge=0, le=1)
    min_requests: int = Field(20, ge=1)
    window_seconds: float = Field(30.0, gt=0)


class ShadowConfig(_Strict):
    """`[proxy.shadow]`: how each worker mirrors shadow routes' requests to their service.

    Mirrors wait in a queue of `queue` requests, sent by `concurrency` senders with a
    `timeout` (seconds) on each call: a full queue drops the mirror (counted), never the
    client's request. Responses over `max_body` bytes are not compared (counted as
    skipped). `noise_rate` is the share of mirrored requests also sent to the monolith a
    second time to learn which fields differ anyway (a route's `noise_rate` overrides it;
    0 turns learning off); the first `warmup` compared requests of each worker always are.
    `samples` mismatches are kept per route, the newest. At most `max_per_second`
    mirrors a second are made per worker (a sample of busy traffic, as Diffy takes).
    """

    queue: int = Field(1000, ge=1)
    concurrency: int = Field(8, ge=1, le=256)
    timeout: float = Field(10.0, gt=0)
    max_body: int = Field(1 << 20, ge=1024, le=64 << 20)
    noise_rate: float = Field(0.1, ge=0, le=1)
    warmup: int = Field(10, ge=0)
    samples: int = Field(50, ge=1, le=1000)
    max_per_second: int = Field(200, ge=1)


class GatesConfig(_Strict):
    """`[proxy.gates]`: what `figkit routes promote` asks of a route before each step.

    A step is taken only when, since the route's last change and within the last
    `window_seconds`, at least `min_requests` were measured (compared in shadow, served
    by the service in canary) and the mismatch rate and the service's error rate are at
    or under their maxima. `ladder`: the canary percentages walked after shadow.
    """

    ladder: list[float] = Field(default_factory=lambda: [5.0, 25.0, 50.0])
    min_requests: int = Field(100, ge=1)
    max_mismatch_rate: float = Field(0.01, ge=0, le=1)
    max_error_rate: float = Field(0.01, ge=0, le=1)
    window_seconds: float = Field(300.0, gt=0)

    @field_validator("ladder")
    @classmethod
    def _rising(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < p < 100 for p in value) or value != sorted(set(value)):
            raise ValueError(
                "ladder is rising canary percentages between 0 and 100, e.g. [5, 25, 50]"
            )
        return value


class ProxySection(_Strict):
    listen: str = "127.0.0.1:8000"
    admin_listen: str = "127.0.0.1:8001"
    store: str = "sqlite:///var/figkit-routes.db"
    access_log: str | None = None
    default_upstream: str = "monolith"
    workers: int = Field(1, ge=1, le=64)
    # Limits and timeouts of the public side (every wait has a bound). Seconds and bytes.
    header_timeout: float = Field(10.0, gt=0)  # to receive a whole request head (slowloris)
    body_timeout: float = Field(30.0, gt=0)  # between two reads of a request body
    keepalive_timeout: float = Field(60.0, gt=0)  # an idle client connection is closed after
    shutdown_timeout: float = Field(10.0, gt=0)  # in-flight requests may finish on SIGTERM
    max_header_size: int = Field(32768, ge=1024, le=1 << 20)  # request line plus headers
    max_headers: int = Field(100, ge=8, le=1000)  # header fields in one request
    # Clients whose X-Forwarded-* headers are believed (CIDRs of your load balancers).
    trusted_proxies: list[str] = []
    # How often each worker looks for a new route table version, in seconds.
    poll_interval: float = Field(0.25, gt=0, le=5)
    # Add X-Figkit-Route / X-Figkit-Upstream to responses (handy in a demo, not in prod).
    debug_headers: bool = False
    rollback: RollbackConfig = Field(default_factory=RollbackConfig)
    shadow: ShadowConfig = Field(default_factory=ShadowConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)

    _listen = field_validator("listen", "admin_listen")(_host_port)

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: object) -> object:
        if isinstance(data, dict) and "server" in data:
            raise ValueError(
                "`server` was removed: the proxy serves with its own data path "
                "(no granian or uvicorn); delete the line"
            )
        return data

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value


class BreakerConfig(_Strict):
    """`[upstreams.NAME.breaker]`: when a worker stops sending to an upstream for a while.

    `failures` failures in a row (no connection, a timeout, a broken response, or a 502,
    503 or 504 from the upstream) open the breaker: for `open_seconds` the upstream is not
    tried and its requests are answered 503 at once (or fall back to the monolith). Then
    `half_open_requests` requests are let through: if they succeed the breaker closes, if
    one fails it opens again. `failures = 0` turns the breaker off.
    """

    failures: int = Field(5, ge=0)
    open_seconds: float = Field(10.0, gt=0)
    half_open_requests: int = Field(1, ge=1)


class OutlierConfig(_Strict):
    """`[upstreams.NAME.outlier]`: one failing URL of several is left out for a while.

    A URL with `failures` failures in a row is not picked for `eject_seconds`, as long as
    at least one URL of the upstream stays in (with one URL, nothing is ever ejected: the
    breaker covers the whole upstream). `failures = 0` turns ejection off.
    """

    failures: int = Field(5, ge=0)
    eject_seconds: float = Field(30.0, gt=0)


class RetryConfig(_Strict):
    """`[upstreams.NAME.retries]`: a failed idempotent request is tried again, within a budget.

    Only a request with no body and an idempotent method (GET, HEAD, OPTIONS, PUT, DELETE),
    and only when the upstream could not be reached or dropped the connection before
    answering (never after a timeout: the upstream may still be working on it). Retries
    may add at most `budget` of the upstream's requests (0.2: 20% extra load, as Envoy's
    and Finagle's budgets), plus `min_per_second` so a quiet upstream can still retry.
    """

    budget: float = Field(0.2, ge=0, le=1)
    min_per_second: float = Field(3.0, ge=0)


class UpstreamConfig(_Strict):
    urls: list[str] = Field(min_length=1)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    outlier: OutlierConfig = Field(default_factory=OutlierConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)
    connect_timeout: float = Field(1.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    # "client": pass the client's Host on (Django's ALLOWED_HOSTS and absolute URLs keep
    # working); "upstream": send the upstream's own host:port, as nginx does by default.
    host: Literal["client", "upstream"] = "client"
    max_connections: int = Field(256, ge=1)
    # How long a request may wait for a free pooled connection when all max_connections
    # are busy; then it is answered 503 (the upstream is not blamed: it is saturated).
    pool_timeout: float = Field(5.0, gt=0)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.query
                or parts.fragment
            ):
                raise ValueError(f"{url!r} is not an http(s)://host[:port] base URL")
            if parts.path not in ("", "/"):
                raise ValueError(
                    f"{url!r} has a path ({parts.path}): the proxy sends each request's own "
                    "path to the upstream, so a base path would be ignored; give scheme://host:port"
                )
        return [url.rstrip("/") for url in value]


class TokenConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    secret_env: str | None = None
    secret_file: str | None = None
    scope: Scope = "read"

    @model_validator(mode="after")
    def _one_source(self) -> TokenConfig:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError(
                "give exactly one of secret_env or secret_file (the secret never sits in the file)"
            )
        return self


class ProxyConfig(_Strict):
    proxy: ProxySection = ProxySection()
    upstreams: dict[str, UpstreamConfig]
    tokens: list[TokenConfig] = []

    @model_validator(mode="after")
    def _default_upstream_exists(self) -> ProxyConfig:
        default = self.proxy.default_upstream
        if default not in self.upstreams:
            known = ", ".join(sorted(self.upstreams)) or "none"
            raise ValueError(
                f"proxy.default_upstream {default!r} is not under [upstreams] (there: {known}): "
                f"add [upstreams.{default}] with the monolith's URL, or name one of those"
            )
        names = [t.name for t in self.tokens]
        if len(names) != len(set(names)):
            raise ValueError("two [[tokens]] share a name")
        return self


def load_config(path: Path | str) -> ProxyConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return ProxyConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {where}: {msg}{more}") from None


def token_secrets(config: ProxyConfig) -> dict[str, tuple[str, Scope]]:
    """Read each token's secret from its env variable or file: {secret: (name, scope)}.

    A relative secret_file, like a relative sqlite store, is read from where figkit runs.
    """
    secrets: dict[str, tuple[str, Scope]] = {}
    for token in config.tokens:
        if token.secret_env is not None:
            secret = os.environ.get(token.secret_env, "")
            where = f"environment variable {token.secret_env}"
        else:
            file = Path(token.secret_file)  # type: ignore[arg-type]
            try:
                secret = file.read_text().strip()
            except OSError:
                secret = ""
            where = f"file {file}"
        if len(secret) < 8:
            raise ConfigError(
                f"token {token.name!r}: {where} is unset or shorter than 8 characters; set it"
            )
        secrets[secret] = (token.name, token.scope)
    return secrets
