"""`figkit proxy ...` and `figkit routes ...`: run the strangler-fig proxy and drive its route table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

proxy_app = typer.Typer(help="Run the strangler-fig proxy in front of the monolith.", no_args_is_help=True)
routes_app = typer.Typer(help="List and change the proxy's routes through its admin API.", no_args_is_help=True)

ARRIVES = "the proxy is being built"


def _not_yet(command: str) -> None:
    typer.echo(f"figkit {command}: not yet available ({ARRIVES}); nothing was done.", err=True)
    raise typer.Exit(code=1)


@proxy_app.command("serve")
def serve(config: Annotated[Path, typer.Option(help="Path to proxy.toml.")] = Path("proxy.toml")) -> None:
    """Serve the proxy and its admin API as the config file says."""
    _not_yet("proxy serve")


@routes_app.command("list")
def list_routes(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the route table."""
    _not_yet("routes list")


@routes_app.command("add")
def add_route(
    name: str,
    match: Annotated[str, typer.Option(help="Path prefix or Django-style pattern.")],
    target: Annotated[str, typer.Option(help="Upstream name from the config.")],
) -> None:
    """Add a route (it starts in mode monolith)."""
    _not_yet("routes add")


@routes_app.command("set-mode")
def set_mode(name: str, mode: str, why: Annotated[str, typer.Option(help="Reason, kept in the audit log.")]) -> None:
    """Move a route between monolith and service."""
    _not_yet("routes set-mode")


@routes_app.command("rollback")
def rollback(name: Annotated[str, typer.Argument(help="Route name, or 'all'.")]) -> None:
    """Send a route (or all routes) back to the monolith."""
    _not_yet("routes rollback")
