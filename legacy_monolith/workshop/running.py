"""`make up`: the stack started and left running for exploring, until Ctrl-C.

It prepares the databases, starts every process under honcho with their output in the terminal,
backfills the catalog into its service, puts the catalog's routes from the extraction plan into
the proxy (still on the monolith: nothing moves until you move it), and prints where everything is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from legacy_monolith.workshop.stack import ROOT, Stack, StackError


def main(*, var_dir: Path, port_base: int, postgres: str | None, broker: str | None) -> int:
    # The workshop's stack: the catalog service's planted mismatch is on until step 5 turns it
    # off (docs/workshop.md); make demo's stack never has it.
    stack = Stack(var_dir, port_base=port_base, postgres=postgres, broker=broker,
                  extra_env={"CATALOG_WORKSHOP_BUG": "on"})  # fmt: skip
    # Started as a background job by a shell, SIGINT may come ignored: Ctrl-C must stop it all.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.check_ports()
        stack.write_files()
        os.environ.update(stack.env())
        os.environ["DJANGO_SETTINGS_MODULE"] = "legacy_monolith.config.settings"
        print(f"up: preparing the databases under {stack.var_dir}", flush=True)
        stack.prepare()
        report = analyse(stack)
        stack.start(show_output=True)
        import django

        django.setup()
        from django.core.management import call_command
        from django.core.management.base import CommandError

        from legacy_monolith.workshop.story import (
            StoryFailed,
            import_catalog_routes,
            worker_runs_a_task,
        )

        worker_seconds = worker_runs_a_task(stack)

        try:
            call_command("backfill", "catalog", wait=60)
        except CommandError as exc:  # e.g. the service owns the catalog already
            print(f"up: no backfill: {exc}", flush=True)
        routes = import_catalog_routes(stack, report.parent / "routes", replace=False)
    except (StackError, StoryFailed) as exc:
        print(f"up: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    except KeyboardInterrupt:
        stack.stop()
        return 130
    print("\n".join(where(stack, report, routes, worker_seconds)), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        code = stack.wait()
        print(f"up: {stack.stopped() or 'the stack stopped'}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def analyse(stack: Stack) -> Path:
    out = stack.var_dir / "report"
    figkit = str(Path(sys.executable).with_name("figkit"))
    done = subprocess.run([figkit, "analyze", "legacy_monolith", "--out", str(out), "--format", "html,json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise StackError(f"figkit analyze failed: {done.stderr.strip()[-300:]}")
    return out / "report.html"


def where(stack: Stack, report: Path, routes: list[str], worker_seconds: float) -> list[str]:
    return [
        "",
        "The shop, its catalog and payments services and the strangler proxy are running:",
        f"  shop (through the proxy): {stack.proxy_url}/",
        f"  dashboard:                {stack.admin_url}/dashboard   (token in {stack.token_file})",
        f"  coupling report:          {report}",
        f"  catalog service OpenAPI:  {stack.url('catalog')}/api/docs",
        f"  payments service OpenAPI: {stack.url('payments')}/api/docs",
        f"  traces (JSON lines):      {stack.var_dir / 'traces.jsonl'}",
        f"  processes:                {stack.folder / 'Procfile'} (honcho), output below",
        f"  worker:                   a task ran through it in {worker_seconds:.1f} s",
        f"  routes:                   {len(routes)} catalog routes, on the monolith until you move them",
        "",
        "In another terminal, from the repository root (docs/workshop.md walks the steps):",
        f"  set -a; . {stack.folder / '.env'}; set +a      # where everything is, for figkit and manage.py",
        '  .venv/bin/figkit routes promote api-catalog-product-list --why "compare the catalog service"',
        "  .venv/bin/figkit routes diff api-catalog-product-list",
        "  .venv/bin/figkit workshop check 1",
        "Ctrl-C stops it all.",
        "",
    ]
