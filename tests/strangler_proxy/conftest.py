"""Fixtures for the proxy: real upstreams, a real proxy and admin API, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from strangler_proxy.admin import create_admin_app
from strangler_proxy.config import ProxyConfig, token_secrets
from strangler_proxy.datapath import Worker
from strangler_proxy.store import RouteStore, open_store
from tests import services
from tests.analyzer.test_report_browser import browser  # noqa: F401  (headless Chromium)
from tests.strangler_proxy import servers
from tests.strangler_proxy.shadow_apps import ProductApp
from tests.strangler_proxy.upstream_app import make_app

ADMIN_SECRET = "admin-secret-for-tests"
READ_SECRET = "read-secret-for-tests"


@pytest.fixture(scope="session")
def upstreams():
    running = {name: servers.start(make_app(name)) for name in ("monolith", "catalog", "orders")}
    yield {name: r.url for name, r in running.items()}
    for r in running.values():
        r.stop()


@pytest.fixture
def products():
    """A monolith and a service copy of the product API, each on its own port."""
    apps = {"monolith": ProductApp("monolith"), "catalog": ProductApp("catalog", 5)}
    running = {name: servers.start(app) for name, app in apps.items()}
    yield apps, {name: r.url for name, r in running.items()}
    for r in running.values():
        r.stop()


@pytest.fixture
def postgres_store_url():
    """A PostgreSQL URL whose tables live in a schema of their own, dropped afterwards."""
    base = services.require(services.POSTGRES)
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    schema = f"figkit_test_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{admin_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/routes.db"
    return request.getfixturevalue("postgres_store_url")


def make_config(
    upstreams: dict[str, str], store: str, upstream_options: dict | None = None, **proxy
) -> ProxyConfig:
    options = upstream_options or {}
    return ProxyConfig.model_validate(
        {
            "proxy": {"store": store, "poll_interval": 0.05, "debug_headers": True, **proxy},
            "upstreams": {
                name: {"urls": [url], "read_timeout": 2.0, **options.get(name, {})}
                for name, url in upstreams.items()
            },
            "tokens": [
                {"name": "ops", "secret_env": "FIGKIT_TEST_ADMIN", "scope": "admin"},
                {"name": "viewer", "secret_env": "FIGKIT_TEST_READ", "scope": "read"},
            ],
        }
    )


@dataclass
class Proxy:
    url: str
    admin_url: str
    app: Worker
    store: RouteStore
    config: ProxyConfig

    def admin(self, token: str = ADMIN_SECRET) -> httpx.Client:
        return httpx.Client(
            base_url=self.admin_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def wait_for_version(self, version: int, seconds: float = 2.0) -> None:
        deadline = time.monotonic() + seconds
        while self.app.table.version < version:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"proxy still on version {self.app.table.version}, wanted {version}"
                )
            time.sleep(0.01)


@pytest.fixture
def start_proxy(upstreams, tmp_path, monkeypatch):
    """Start a proxy and its admin API on loopback: start_proxy(store=..., **proxy_options)."""
    monkeypatch.setenv("FIGKIT_TEST_ADMIN", ADMIN_SECRET)
    monkeypatch.setenv("FIGKIT_TEST_READ", READ_SECRET)
    started: list = []

    def start(
        store: str | None = None,
        upstream_urls: dict | None = None,
        upstream_options: dict | None = None,
        **proxy,
    ) -> Proxy:
        store = store or f"sqlite:///{tmp_path}/routes-{len(started)}.db"
        config = make_config(upstream_urls or upstreams, store, upstream_options, **proxy)
        proxy_server = servers.start_worker(config)
        app = proxy_server.worker
        store_ = open_store(config.proxy.store)
        admin_server = servers.start(
            create_admin_app(
                config, store_, token_secrets(config), applied_versions=lambda: [app.table.version]
            )
        )
        started.extend([proxy_server, admin_server])
        return Proxy(proxy_server.url, admin_server.url, app, store_, config)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def proxy(start_proxy) -> Proxy:
    return start_proxy()


def upstream_of(response: httpx.Response) -> str:
    return response.headers["x-upstream"]
