"""`figkit proxy ...` and `figkit routes ...`: run the strangler-fig proxy and drive its route table.

The routes commands talk to the admin API over HTTP (httpx: speed does not matter here).
It is found through --admin / FIGKIT_ADMIN_URL, the token through --token /
FIGKIT_ADMIN_TOKEN, or a file: --token-file / FIGKIT_ADMIN_TOKEN_FILE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from strangler_proxy.errors import ProxyError
from strangler_proxy.routing import ALL_ROUTES

proxy_app = typer.Typer(
    help="Run the strangler-fig proxy in front of the monolith.", no_args_is_help=True
)
routes_app = typer.Typer(
    help="List and change the proxy's routes through its admin API.", no_args_is_help=True
)

DEFAULT_ADMIN = "http://127.0.0.1:8001"
LOCAL_TOKEN_FILE = Path("var/figkit-admin-token")


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"figkit: {message}", err=True)
    raise typer.Exit(code=code)


@proxy_app.command("serve")
def serve(
    config: Annotated[Path, typer.Option(help="Path to proxy.toml.")] = Path("proxy.toml"),
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (default: the config's).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the proxy and its admin API as the config file says."""
    from strangler_proxy.server import serve as run

    try:
        run(config, workers=workers, log_level=log_level)
    except ProxyError as exc:
        _fail(str(exc), 2)


@proxy_app.command("check")
def check(
    config: Annotated[Path, typer.Option(help="Path to proxy.toml.")] = Path("proxy.toml"),
) -> None:
    """Validate proxy.toml, its token secrets and its route store, then say what it serves."""
    from strangler_proxy.config import load_config, token_secrets
    from strangler_proxy.store import open_store

    try:
        cfg = load_config(config)
        token_secrets(cfg)
        store = open_store(cfg.proxy.store)
        version = store.version()
        store.close()
    except ProxyError as exc:
        _fail(str(exc), 2)
    typer.echo(
        f"{config}: ok: listen {cfg.proxy.listen}, admin {cfg.proxy.admin_listen}, "
        f"upstreams {', '.join(sorted(cfg.upstreams))}, route table version {version}"
    )


# --- the admin API client --------------------------------------------------------------
class _Admin:
    def __init__(self) -> None:
        self.url = DEFAULT_ADMIN
        self.token: str | None = None
        self.if_version: int | None = None

    def request(
        self, method: str, path: str, body: dict | None = None, params: dict | None = None
    ) -> Any:
        if body is not None and self.if_version is not None:
            body = {**body, "expect_version": self.if_version}
        if not self.token:
            _fail(
                "no admin token: set FIGKIT_ADMIN_TOKEN (or FIGKIT_ADMIN_TOKEN_FILE, or --token-file) "
                "to a secret named in the proxy's [[tokens]]"
            )
        try:
            with httpx.Client(base_url=self.url, timeout=10) as client:
                resp = client.request(
                    method,
                    path,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {self.token}"},
                )
        except httpx.HTTPError as exc:
            _fail(
                f"cannot reach the admin API at {self.url} ({type(exc).__name__}): is `figkit proxy serve` running? "
                "Pass --admin URL or set FIGKIT_ADMIN_URL"
            )
        try:
            data = resp.json()
        except ValueError:
            data = {"detail": " ".join(resp.text.split())[:200]}
        if resp.status_code >= 400:
            detail = data.get("detail") or data.get("error") if isinstance(data, dict) else None
            _fail(f"{detail or resp.reason_phrase} (HTTP {resp.status_code})")
        return data


admin = _Admin()


@routes_app.callback()
def _connect(
    admin_url: Annotated[
        str, typer.Option("--admin", envvar="FIGKIT_ADMIN_URL", help="Admin API base URL.")
    ] = DEFAULT_ADMIN,
    token: Annotated[
        str | None,
        typer.Option(envvar="FIGKIT_ADMIN_TOKEN", help="Admin token.", show_default=False),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            envvar="FIGKIT_ADMIN_TOKEN_FILE",
            help=f"File holding the token (default {LOCAL_TOKEN_FILE} if present).",
        ),
    ] = None,
    if_version: Annotated[
        int | None,
        typer.Option(
            "--if-version",
            min=0,
            help="Change only if the table is still at this version (from `list`); else fail.",
        ),
    ] = None,
) -> None:
    admin.url = admin_url.rstrip("/")
    admin.if_version = if_version
    if token is None:
        file = token_file or (LOCAL_TOKEN_FILE if LOCAL_TOKEN_FILE.exists() else None)
        if file is not None:
            try:
                token = file.read_text().strip()
            except OSError as exc:
                _fail(f"cannot read the token file {file}: {exc.strerror}")
    admin.token = token


def _mode(route: dict) -> str:
    """A route's mode from its JSON (`policy.mode`, or `mode` as older versions wrote it)."""
    policy = route.get("policy") or {}
    mode = str(policy.get("mode") or route.get("mode") or "monolith")
    canary = (policy.get("options") or {}).get("canary") or {}
    if mode == "canary" and "percent" in canary:
        mode += f" {canary['percent']:g}%"
    return mode


def _shown(route: dict) -> dict:
    """A route's JSON flattened for a table: its policy as `mode` (and `options`)."""
    shown = {k: v for k, v in route.items() if k not in ("policy", "mode")}
    shown["mode"] = _mode(route)
    options = (route.get("policy") or {}).get("options")
    if options:
        shown["options"] = json.dumps(options, sort_keys=True)
    return shown


def _print_routes(routes: list[dict], version: int | None = None) -> None:
    console = Console()
    table = Table(title=None if version is None else f"route table version {version}")
    for col in ("name", "match", "methods", "header", "target", "mode"):
        table.add_column(col)
    for r in routes:
        mode = _mode(r)
        table.add_row(
            r["name"],
            r["match"],
            ",".join(r["methods"]) or "*",
            r["header"] or "",
            r["target"],
            f"[bold green]{mode}[/]" if mode == "service" else mode,
        )
    console.print(table)


def _done(data: dict, what: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    routes = data.get("routes") or ([data["route"]] if "route" in data else [])
    live = data.get("live")
    if live is True:
        where = f", live on all {data['workers']} worker(s)"
    elif live is False:
        where = f" (not yet served by every worker after 3 s: {data['workers']} seen; workers poll the store)"
    else:
        where = ""
    typer.echo(f"{what}: route table now at version {data['version']}{where}")
    if routes:
        _print_routes(routes)


Why = Annotated[str, typer.Option(help="Why: kept in the audit log with your token's name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@routes_app.command("list")
def list_routes(as_json: AsJson = False) -> None:
    """Print the route table."""
    data = admin.request("GET", "/api/routes")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_routes(data["routes"], data["version"])


@routes_app.command("add")
def add_route(
    name: str,
    match: Annotated[
        str,
        typer.Option(
            help="Django-style pattern (/api/products/<int:id>/) or prefix (/api/catalog/*)."
        ),
    ],
    target: Annotated[str, typer.Option(help="Upstream name from the config.")],
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated methods, e.g. GET,HEAD (default: any). Stored upper-case and "
            "matched exactly: a request method 'get' does not match a GET route."
        ),
    ] = "",
    header: Annotated[
        str | None, typer.Option(help="Only requests with this header: 'X-Beta' or 'X-Beta: 1'.")
    ] = None,
    mode: Annotated[str, typer.Option(help="monolith (default) or service.")] = "monolith",
    why: Why = "added",
    as_json: AsJson = False,
) -> None:
    """Add a route (by default it starts in mode monolith: nothing moves yet)."""
    body = {
        "name": name,
        "match": match,
        "target": target,
        "policy": {"mode": mode},
        "why": why,
        "methods": [m for m in methods.split(",") if m.strip()],
        "header": header,
    }
    _done(admin.request("POST", "/api/routes", body), f"added {name}", as_json)


@routes_app.command("set-mode")
def set_mode(
    name: str,
    mode: Annotated[str, typer.Argument(help="monolith, shadow, canary or service")],
    why: Why,
    percent: Annotated[
        float | None,
        typer.Option("--percent", help="canary: the share of users on the service, 0-100."),
    ] = None,
    sticky: Annotated[
        str | None,
        typer.Option(
            "--sticky",
            help="canary: what a user is, header:NAME or cookie:NAME (default: the proxy's own cookie).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="shadow: a JSONPath left out of the comparison, e.g. '$.generated_at' (repeatable).",
        ),
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option("--redact", help="shadow: a JSONPath never shown in samples (repeatable)."),
    ] = None,
    noise_rate: Annotated[
        float | None,
        typer.Option(
            "--noise-rate",
            help="shadow: share of mirrors also sent to the monolith again to learn noise (0: off).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Move a route between monolith, shadow (mirrored and compared), canary and service."""
    body: dict = {"mode": mode, "why": why}
    shadow_given = ignore or redact or noise_rate is not None
    if mode == "canary":
        if percent is not None or sticky is not None:
            settings: dict = {"percent": percent}
            if sticky is not None:
                settings["sticky"] = sticky
            if percent is None:
                _fail("give --percent N with --sticky (the share of users on the service)", 2)
            body["options"] = {"canary": settings}
    elif percent is not None or sticky is not None:
        _fail(f"--percent and --sticky are for mode canary, not {mode}", 2)
    if mode == "shadow":
        if shadow_given:
            shadow: dict = {}
            if ignore:
                shadow["ignore"] = list(ignore)
            if redact:
                shadow["redact"] = list(redact)
            if noise_rate is not None:
                shadow["noise_rate"] = noise_rate
            body["options"] = {"shadow": shadow}
    elif shadow_given:
        _fail(f"--ignore, --redact and --noise-rate are for mode shadow, not {mode}", 2)
    split = f" ({percent:g}% of users)" if percent is not None else ""
    _done(admin.request("PATCH", f"/api/routes/{name}", body), f"{name} -> {mode}{split}", as_json)


@routes_app.command("promote")
def promote(name: str, why: Why, as_json: AsJson = False) -> None:
    """One step along shadow -> canary ladder -> service, only if the route's figures pass the gate."""
    data = admin.request("POST", f"/api/routes/{name}/promote", {"why": why})
    _done(data, f"{name} promoted to {data.get('step', '?')}", as_json)


@routes_app.command("diff")
def diff(
    name: str,
    as_json: AsJson = False,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Start the comparison afresh (after fixing the service)."),
    ] = False,
    forget_noise: Annotated[
        bool, typer.Option("--forget-noise", help="With --reset: forget the learned noise too.")
    ] = False,
) -> None:
    """A shadow route's comparison: compared, mismatched, learned noise and samples of mismatches."""
    if reset:
        admin.request("POST", f"/api/routes/{name}/diff/reset", {"forget_noise": forget_noise})
        typer.echo(
            f"{name}: shadow comparison reset" + (" (noise forgotten)" if forget_noise else "")
        )
        return
    if forget_noise:
        _fail("--forget-noise goes with --reset", 2)
    data = admin.request("GET", f"/api/routes/{name}/diff")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"{name} ({_mode(data)}): {data['compared']} compared, {data['mismatched']} mismatched "
        f"({data['mismatch_rate']:.1%}), {data['shadow_errors']} service errors, "
        f"{data['dropped']} dropped (queue full), {data['skipped']} skipped (over the size cap)"
    )
    typer.echo("noise (ignored): " + (", ".join(data["noise"]) or "none learned yet"))
    if not data.get("body_compared", True):
        typer.echo(
            "warning: the whole body is learnt as noise, so bodies are not compared and the gate "
            f"stays closed; to compare by status and headers on purpose: figkit routes set-mode {name} "
            "shadow --ignore '$'"
        )
    if data["samples"]:
        table = Table(title="newest mismatches")
        for col in ("request", "path", "monolith", "service"):
            table.add_column(col, overflow="fold")
        for sample in data["samples"][:20]:
            table.add_row(
                f"{sample['method']} {sample['target']}",
                sample["path"],
                json.dumps(sample["monolith"]),
                json.dumps(sample["service"]),
            )
        Console().print(table)


@routes_app.command("fault")
def fault(
    name: str,
    why: Why,
    delay_ms: Annotated[
        int | None, typer.Option("--delay-ms", help="Latency to add, in milliseconds.")
    ] = None,
    abort: Annotated[
        int | None,
        typer.Option("--abort", help="Answer this status (400-599) instead of forwarding."),
    ] = None,
    percent: Annotated[
        float, typer.Option("--percent", help="The share of eligible requests hit, 0-100.")
    ] = 100,
    header: Annotated[
        str | None,
        typer.Option("--header", help="Only requests that carry this header are eligible."),
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Stop injecting faults on this route.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Inject latency or errors into a share of a route's requests (chaos tests); --off stops it."""
    if off:
        if delay_ms is not None or abort is not None or header is not None:
            _fail("--off takes no other fault option", 2)
        settings = None
        what = f"{name}: no fault"
    else:
        if delay_ms is None and abort is None:
            _fail("give --delay-ms N, --abort STATUS or both (or --off)", 2)
        settings = {"delay_ms": delay_ms, "abort": abort, "percent": percent, "header": header}
        parts = [
            f"+{delay_ms} ms" if delay_ms is not None else "",
            f"abort {abort}" if abort else "",
        ]
        only = f" of requests with {header}" if header else ""
        what = f"{name}: {' and '.join(p for p in parts if p)} on {percent:g}%{only}"
    body = {"options": {"fault": settings}, "why": why}
    _done(admin.request("PATCH", f"/api/routes/{name}", body), what, as_json)


@routes_app.command("move")
def move(
    name: str,
    to: Annotated[
        str, typer.Option("--to", help="The upstream that serves the route in mode service.")
    ],
    why: Why,
    as_json: AsJson = False,
) -> None:
    """Point a route at another upstream (its mode stays as it is)."""
    _done(
        admin.request("PATCH", f"/api/routes/{name}", {"target": to, "why": why}),
        f"{name} now targets {to}",
        as_json,
    )


@routes_app.command("remove")
def remove(name: str, why: Why, as_json: AsJson = False) -> None:
    """Delete a route: its traffic goes to the monolith."""
    _done(admin.request("DELETE", f"/api/routes/{name}", {"why": why}), f"removed {name}", as_json)


@routes_app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help=f"Route name, or '{ALL_ROUTES}' for every route.")],
    why: Why = "rollback",
    as_json: AsJson = False,
) -> None:
    """Send a route (or all routes) back to the monolith, in one change."""
    _done(
        admin.request("POST", "/api/rollback", {"route": name, "why": why}),
        f"rolled back {name}",
        as_json,
    )


@routes_app.command("stats")
def stats(name: str, as_json: AsJson = False) -> None:
    """Per target of a route: requests, errors, share (the canary split), p50/p99, breaker."""
    data = admin.request("GET", f"/api/routes/{name}/stats")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{name} ({_mode(data)}): {data['requests']} requests since the proxy started")
    table = Table()
    for col in (
        "target",
        "requests",
        "share",
        "errors",
        "error rate",
        "p50 ms",
        "p99 ms",
        "breaker",
    ):
        table.add_column(col)
    for target, t in data["targets"].items():
        table.add_row(
            target, str(t["requests"]), f"{t['share']:.1%}", str(t["errors"]),
            f"{t['error_rate']:.2%}", f"{t['p50_ms']:.1f}", f"{t['p99_ms']:.1f}", t["breaker"],
        )  # fmt: skip
    Console().print(table)


@routes_app.command("history")
def history(
    name: Annotated[str | None, typer.Argument(help="Only this route.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: AsJson = False,
) -> None:
    """Who changed what, when and why (newest first)."""
    params = {"limit": limit, **({"route": name} if name else {})}
    data = admin.request("GET", "/api/history", params=params)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table()
    for col in ("version", "at", "who", "action", "route", "change", "why"):
        table.add_column(col)
    for c in data["changes"]:
        before = _shown(c["before"] or {})
        after = _shown(c["after"] or {})
        if c["before"] is None:
            change = f"+ {after['match']} -> {after['target']} ({after['mode']})"
        elif c["after"] is None:
            change = "removed"
        else:
            change = ", ".join(
                f"{k}: {before.get(k)} -> {after[k]}" for k in after if before.get(k) != after[k]
            )
        table.add_row(
            str(c["version"]),
            c["at"][:19].replace("T", " "),
            c["who"],
            c["action"],
            c["route"],
            change,
            c["why"],
        )
    Console().print(table)


@routes_app.command("export")
def export() -> None:
    """Print the route table as JSON that `figkit routes import` reads back."""
    data = admin.request("GET", "/api/export")
    typer.echo(json.dumps({"routes": data["routes"]}, indent=2))


@routes_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSON as `figkit routes export` prints it.")],
    why: Why,
    replace: Annotated[bool, typer.Option(help="Remove routes the file does not list.")] = False,
    as_json: AsJson = False,
) -> None:
    """Add or update routes from a file, all in one change (all or nothing)."""
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    except ValueError as exc:
        _fail(f"{file} is not JSON: {exc}")
    routes = data.get("routes") if isinstance(data, dict) else data
    if not isinstance(routes, list):
        _fail(
            f'{file} holds no list of routes: write {{"routes": [...]}} as `figkit routes export` prints'
        )
    _done(
        admin.request("POST", "/api/import", {"routes": routes, "replace": replace, "why": why}),
        f"imported {file}",
        as_json,
    )
