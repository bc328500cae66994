"""The `figkit` command.

The root app lives here and mounts the commands other parts of the kit register under the
`figkit.commands` entry-point group (the proxy's `proxy` and `routes`), so the analyzer never
imports them directly.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="figkit",
    help="Take a Django monolith apart one piece at a time: analyse its coupling, "
    "then move routes to extracted services behind a strangler-fig proxy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def not_yet_available(command: str, arrives_with: str) -> None:
    """Say plainly that a command is planned but does nothing yet, and exit non-zero."""
    typer.echo(f"figkit {command}: not yet available ({arrives_with}); nothing was done.", err=True)
    raise typer.Exit(code=1)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"figkit {version('figkit')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """figkit: coupling analysis, strangler-fig proxy, and the data seam for Django monoliths."""


@app.command()
def analyze(
    path: Annotated[Path, typer.Argument(help="Root of the Django project to analyse.")],
    out: Annotated[Path, typer.Option(help="Folder for analysis.json and reports.")] = Path(
        "figkit-report"
    ),
) -> None:
    """Map how modules, apps and tables are coupled; write DIR/analysis.json."""
    not_yet_available("analyze", "coupling extraction is being built")


@app.command()
def plan(
    analysis: Annotated[Path, typer.Argument(help="An analysis.json written by `figkit analyze`.")],
) -> None:
    """Suggest service boundaries, price each cut and order the extraction."""
    not_yet_available("plan", "boundaries and extraction plan come after the extractor")


@app.command()
def report(
    analysis: Annotated[Path, typer.Argument(help="An analysis.json written by `figkit analyze`.")],
) -> None:
    """Render the analysis as an HTML report to open in the browser."""
    not_yet_available("report", "the HTML report comes after the extractor")


def _mount_plugins() -> None:
    for ep in entry_points(group="figkit.commands"):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken part must not take the whole CLI down
            print(
                f"figkit: could not load the '{ep.name}' commands ({exc}); skipping them",
                file=sys.stderr,
            )
            continue
        app.add_typer(sub, name=ep.name)


_mount_plugins()


def main() -> None:
    app()
