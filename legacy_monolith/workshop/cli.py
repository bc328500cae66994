"""`figkit workshop ...`: the demo, the running stack and the workshop's checks (docs/workshop.md).

Mounted under `figkit` through the `figkit.commands` entry point, so the analyzer never imports
the sample shop; `python -m legacy_monolith.workshop` runs the same commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from legacy_monolith.workshop.stack import ROOT

workshop_app = typer.Typer(
    name="workshop",
    help="The sample shop's migration: the one-command demo, the stack to explore, the workshop's checks.",
    no_args_is_help=True,
    add_completion=False,
)

VarDir = Annotated[
    Path,
    typer.Option(
        "--var", envvar="FIGKIT_VAR_DIR", help="Folder of every database, log and report."
    ),
]
PortBase = Annotated[
    int,
    typer.Option("--port-base", min=1024, max=65000,
                 help="Proxy on BASE, admin API BASE+1, monolith +100, catalog +200, payments +300."),
]  # fmt: skip
Postgres = Annotated[
    str | None,
    typer.Option("--postgres", envvar="FIGKIT_STACK_POSTGRES",
                 help="A PostgreSQL server URL: each part gets its own database there (default: SQLite files)."),
]  # fmt: skip
Broker = Annotated[
    str | None,
    typer.Option("--broker", envvar="FIGKIT_STACK_BROKER",
                 help="Celery broker URL, e.g. amqp://guest:guest@127.0.0.1:5672// (default: kombu's filesystem transport)."),
]  # fmt: skip


@workshop_app.command()
def demo(
    fast: Annotated[bool, typer.Option("--fast", help="The 60-second version.")] = False,
    var: VarDir = ROOT / "var",
    port_base: PortBase = 8000,
    postgres: Postgres = None,
    broker: Broker = None,
) -> None:
    """Run the whole story (analyse, start, traffic, backfill, shadow, canary, flip, saga, chaos,
    stop) and print a table per phase; exits 1 on any client error."""
    from legacy_monolith.workshop import story

    raise typer.Exit(
        story.main(fast=fast, var_dir=var, port_base=port_base, postgres=postgres, broker=broker)
    )


@workshop_app.command()
def up(
    var: VarDir = ROOT / "var",
    port_base: PortBase = 8000,
    postgres: Postgres = None,
    broker: Broker = None,
) -> None:
    """Start the stack and leave it running for exploring; Ctrl-C stops it all."""
    from legacy_monolith.workshop import running

    raise typer.Exit(
        running.main(var_dir=var, port_base=port_base, postgres=postgres, broker=broker)
    )


Step = Annotated[int, typer.Argument(min=1, max=11, help="The step of docs/workshop.md, 1-11.")]


@workshop_app.command()
def check(step: Step, var: VarDir = ROOT / "var", port_base: PortBase = 8000) -> None:
    """Is the running stack where step N of docs/workshop.md leaves it? One line per thing
    checked; exits 0 when all hold, 1 when one is missing, 2 when no stack answers."""
    from legacy_monolith.workshop import checks

    raise typer.Exit(checks.main_check(step, var_dir=var, port_base=port_base))


@workshop_app.command()
def reset(var: VarDir = ROOT / "var", port_base: PortBase = 8000) -> None:
    """Put the running stack back at step 0: the catalog owned by the monolith, its routes on the
    monolith with fresh diff figures and no faults, checkout atomic, the planted mismatch on."""
    from legacy_monolith.workshop import checks

    raise typer.Exit(checks.main_reset(var_dir=var, port_base=port_base))


def main() -> None:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)  # each command sets its own
    workshop_app(prog_name="figkit workshop")
