"""`make demo`: the whole migration of the shop's catalog and checkout, in one command.

1. analyse the monolith and write the HTML report;
2. start the stack (stack.py): monolith, catalog and payments services, Celery worker with beat,
   the seam's relays and consumers, the strangler proxy, under honcho;
3. drive steady traffic through the proxy (traffic.py) for the rest of the story;
4. backfill the catalog into its service and wait until reconcile finds no difference;
5. move the catalog's routes monolith -> shadow -> canary -> service, each step behind its gate;
6. flip the catalog's data ownership to the service;
7. switch checkout from the atomic path to the saga with the payments service;
8. a chaos minute: the catalog service stops answering (SIGSTOP), the breaker opens and the
   fallback serves from the monolith; then it answers again;
9. stop every process.

It prints a table per phase (requests, client errors, shadow mismatches, p50/p99) and writes
the same as var/demo/summary.json, summary.md and phases.png. It exits 1 when a client saw an
error, reconcile finds a difference at the end, or a step could not be taken.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from legacy_monolith.workshop.stack import ROOT, Stack, StackError
from legacy_monolith.workshop.traffic import Catalogue, Shopper, Traffic, TrafficFailed

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)

# The plan's catalog routes that the catalog service serves (extracted/catalog/urls.py): the
# home page, stock availability and the back office stay with the monolith for now.
# The pages are the service's own templates, compared by status and content type only.
PAGES = ("catalog-category-list", "catalog-category-detail", "catalog-product-detail", "catalog-search")
SERVICE_ROUTES = (
    "api-catalog-product-list", "api-catalog-product-detail", "api-catalog-category-list", *PAGES,
)  # fmt: skip
SHOPPER_PASSWORD = "demo-shopper-1"


@dataclass(frozen=True)
class Timing:
    """Seconds each phase lets the traffic run; FAST is the 60-second version."""

    baseline: float
    settle: float  # after each move, before the next gate is asked
    gate_wait: float  # at most, for a gate to open
    service: float
    saga: float
    chaos: float
    shoppers: int
    visitors: int

    @classmethod
    def of(cls, fast: bool) -> Timing:
        if fast:
            return cls(
                baseline=3,
                settle=1,
                gate_wait=90,  # at most: on a loaded machine the gates' counts come slower
                service=3,
                saga=5,
                chaos=6,
                shoppers=4,
                visitors=4,
            )
        return cls(
            baseline=15,
            settle=3,
            gate_wait=90,
            service=15,
            saga=30,
            chaos=60,
            shoppers=8,
            visitors=8,
        )


@dataclass
class Phase:
    phase: str
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    mismatches: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    checkouts: int = 0
    refused: int = 0
    fallbacks: int = 0
    on_service: int = 0
    note: str = ""
    error_samples: list[str] = field(default_factory=list)


class StoryFailed(Exception):
    """A step of the story could not be taken: one line saying which and why."""


class Story:
    def __init__(self, stack: Stack, timing: Timing, out: Path):
        self.stack = stack
        self.timing = timing
        self.out = out
        self.phases: list[Phase] = []
        self.traffic: Traffic | None = None
        self._mismatched = 0
        self._carried = 0
        self._phase_started = time.monotonic()
        self._admin = httpx.Client(base_url=stack.admin_url, timeout=15,
                                   headers={"Authorization": f"Bearer {stack.admin_token}"})  # fmt: skip

    # -- phases ------------------------------------------------------------------------------
    def begin(self, name: str) -> None:
        console.print(f"[bold]{name}[/bold]")
        self._phase_started = time.monotonic()
        if self.traffic is not None:
            self.traffic.phase = name

    def end(self, name: str, note: str = "") -> Phase:
        phase = Phase(name, seconds=time.monotonic() - self._phase_started, note=note)
        if self.traffic is not None:
            figures = self.traffic.figures.get(name)
            if figures is not None:
                phase.requests, phase.errors = figures.requests, figures.errors
                phase.p50_ms, phase.p99_ms = figures.percentile(50), figures.percentile(99)
                phase.checkouts, phase.refused = figures.checkouts, figures.refused
                phase.fallbacks = figures.fallbacks
                phase.on_service = figures.upstreams.get("catalog", 0)
                phase.error_samples = list(figures.error_samples)
            mismatched = self.mismatched()
            phase.mismatches, self._mismatched = mismatched - self._mismatched, mismatched
        self.phases.append(phase)
        console.print(f"  {phase.requests} requests, {phase.errors} errors, {phase.mismatches} mismatches, "
                      f"p50 {phase.p50_ms:.0f} ms, p99 {phase.p99_ms:.0f} ms{'; ' + note if note else ''}")  # fmt: skip
        return phase

    def run(self) -> int:
        self.begin("analyse")
        report = self.analyse()
        self.end("analyse", f"report {report}")
        self.begin("start")
        shoppers, catalogue = self.shoppers_and_catalogue()
        self.stack.start()
        seconds = worker_runs_a_task(self.stack)
        self.traffic = Traffic(self.stack.proxy_url, shoppers, catalogue)
        self.traffic.start()
        self.end(
            "start",
            f"9 processes under honcho, every probe ready, a task ran through the worker in {seconds:.1f} s",
        )
        try:
            self.story()
        finally:
            self.traffic.stop()
        return 0

    def story(self) -> None:
        t = self.timing
        assert self.traffic is not None
        self.begin("baseline")
        self.hold(t.baseline)
        self.end("baseline", "all traffic on the monolith")

        self.begin("backfill")
        differences = self.backfill()
        self.end("backfill", f"reconcile: {differences} differences")

        self.begin("shadow")
        self.import_routes()
        self.promote_all("shadow")
        self.compare_pages_by_status()
        self.hold(t.settle * 3)
        # The first comparisons also teach the proxy what differs between two answers of the
        # monolith itself (a CSRF token, a timestamp): noise. Start the figures afresh once it
        # knows, so that the gate judges real differences (docs/proxy.md, "diff --reset").
        self.reset_diffs()
        self.promote_all("canary")  # shadow -> the ladder's first step, behind the mismatch gate
        self.end("shadow", "mirrored and compared, then the gate let every route to canary")

        self.begin("canary")
        self.promote_all("service")
        self.hold(t.service)
        self.end("canary", "each step of the ladder behind its gate, then service")

        self.begin("flip")
        held = self.flip()
        self.hold(t.settle)
        self.end("flip", held)

        self.begin("saga")
        self.manage("switch", "checkout", "saga")
        self.hold(t.saga)
        sagas = self.completed_sagas()
        if sagas == 0:
            raise StoryFailed("no checkout ran as a saga while checkout was switched to it")
        self.end("saga", f"{sagas} checkouts completed as sagas")

        self.begin("chaos")
        note = self.chaos(t.chaos)
        self.end("chaos", note)
        self.begin("reconcile")
        differences = self.until_reconciled(60)
        self.end("reconcile", f"{differences} differences")

    def hold(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.stack.check_alive()
            if self.traffic is not None:
                self.traffic.check()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    # -- steps -------------------------------------------------------------------------------
    def analyse(self) -> Path:
        report = self.out / "report"
        figkit = str(Path(sys.executable).with_name("figkit"))
        done = subprocess.run([figkit, "analyze", "legacy_monolith", "--out", str(report),
                               "--format", "html,json"], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        if done.returncode != 0 or not (report / "report.html").exists():
            raise StoryFailed(f"figkit analyze failed: {done.stderr.strip()[-300:]}")
        return report / "report.html"

    def shoppers_and_catalogue(self) -> tuple[list[Shopper | None], Catalogue]:
        """Shoppers with a password and an address, and SKUs with stock enough for the story."""
        from django.contrib.auth.hashers import make_password

        from legacy_monolith.accounts.models import Address, User
        from legacy_monolith.catalog.models import Category, Product, ProductVariant
        from legacy_monolith.inventory.models import StockItem
        from legacy_monolith.shipping.models import ShippingMethod

        shoppers: list[Shopper | None] = []
        password = make_password(SHOPPER_PASSWORD)
        for n in range(self.timing.shoppers):
            user, _ = User.objects.update_or_create(
                username=f"demo-shopper-{n}",
                defaults={"email": f"demo-shopper-{n}@legacy-shop.example", "password": password},
            )
            address = user.addresses.first() or Address.objects.create(
                user=user, full_name=f"Demo Shopper {n}", line1="Hauptstr. 1", city="Berlin",
                postcode="10115", country="DE", is_default=True,
            )  # fmt: skip
            shoppers.append(Shopper(user.username, SHOPPER_PASSWORD, address.pk))
        products = list(
            Product.objects.filter(is_active=True)
            .order_by("pk")
            .values_list("slug", flat=True)[:40]
        )
        # Two reads, not a join: this module is the demo's, not the shop's, and `figkit check`
        # holds the catalog's boundary over every file of legacy_monolith/.
        stocked = set(StockItem.objects.values_list("variant_id", flat=True))
        variants = [
            v for v in ProductVariant.objects.filter(product__is_active=True).order_by("pk")
            if v.pk in stocked
        ][:10]  # fmt: skip
        skus = [v.sku for v in variants]
        StockItem.objects.filter(variant_id__in=[v.pk for v in variants]).update(quantity=100_000)
        categories = list(Category.objects.order_by("pk").values_list("slug", flat=True)[:10])
        method = ShippingMethod.objects.filter(is_active=True).order_by("price").first()
        if not (products and skus and categories and method):
            raise StoryFailed(
                "the shop has no products, stock, categories or shipping methods: seed it"
            )
        shoppers += [None] * self.timing.visitors  # visitors
        return shoppers, Catalogue(products, categories, skus, method.pk)

    def backfill(self) -> int:
        self.manage("backfill", "catalog", "--wait", "60")
        return self.until_reconciled(60)

    def until_reconciled(self, within: float) -> int:
        from extracted.seam import settings as seam_settings
        from extracted.seam.reconcile import reconcile

        deadline = time.monotonic() + within
        while True:
            self.stack.check_alive()
            differences = len(reconcile(seam_settings.domain("catalog")).differences)
            if differences == 0:
                return 0
            if time.monotonic() > deadline:
                raise StoryFailed(
                    f"the catalog service still differs from the monolith in {differences} row(s)"
                )
            time.sleep(0.5)

    def import_routes(self) -> None:
        import_catalog_routes(self.stack, self.out / "report" / "routes", replace=True)

    def promote_all(self, until: str) -> None:
        """Promote every route, each as often as it takes to reach `until`, waiting for its gate."""
        deadline = time.monotonic() + self.timing.gate_wait
        pending = list(SERVICE_ROUTES)
        while pending:
            self.stack.check_alive()
            for name in list(pending):
                mode = self.mode(name)
                if mode == until:
                    pending.remove(name)
                    continue
                answer = self._admin.post(
                    f"/api/routes/{name}/promote", json={"why": f"demo: towards {until}"}
                )
                if answer.status_code == 409 and answer.json().get("error") == "gate_closed":
                    if time.monotonic() > deadline:
                        raise StoryFailed(
                            f"the gate of {name} stayed closed: {answer.json()['detail']}"
                        )
                    continue
                if answer.status_code >= 400:
                    raise StoryFailed(
                        f"promote {name}: HTTP {answer.status_code} {answer.text[:200]}"
                    )
                if self.mode(name) == until:
                    pending.remove(name)
            if pending:
                time.sleep(self.timing.settle)

    def compare_pages_by_status(self) -> None:
        """The service's pages are its own templates, and the monolith's differ from themselves
        (a CSRF token): their bodies are left out on purpose, or the gate stays closed."""
        for name in PAGES:
            self.admin("PATCH", f"/api/routes/{name}", {
                "mode": "shadow", "options": {"shadow": {"ignore": ["$"]}},
                "why": "demo: the catalog service's own pages, compared by status and content type",
            })  # fmt: skip

    def mode(self, route: str) -> str:
        return self.admin("GET", f"/api/routes/{route}")["route"]["policy"]["mode"]

    def flip(self) -> str:
        out = self.manage(
            "flip_ownership",
            "catalog",
            "--to",
            "service",
            "--reason",
            "demo: the catalog service owns the catalogue",
        )
        return out.strip().splitlines()[-1] if out.strip() else "flipped"

    def completed_sagas(self) -> int:
        from extracted.seam.models import SagaRun
        from extracted.seam.saga import COMPLETED
        from legacy_monolith.orders.checkout_saga import PATH

        return SagaRun.objects.filter(saga=PATH, status=COMPLETED).count()

    def chaos(self, seconds: float) -> str:
        """The catalog service's server stops answering for `seconds`, then answers again."""
        pid = self.stack.pid_of("catalog")
        breaker_opened = False
        os.kill(pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                self.hold(min(1.0, deadline - time.monotonic()))
                breaker_opened = breaker_opened or self.breaker_open("catalog")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert self.traffic is not None
        fell_back = self.traffic.figures["chaos"].fallbacks
        self.hold(self.timing.settle * 2)
        return (f"catalog service stopped {seconds:.0f} s: breaker {'opened' if breaker_opened else 'never opened'}, "
                f"{fell_back} answers from the fallback")  # fmt: skip

    def breaker_open(self, upstream: str) -> bool:
        breakers = self.admin("GET", "/api/overview").get("breakers") or {}
        return breakers.get(upstream) in ("open", "half_open")

    def reset_diffs(self) -> None:
        self._carried = self.mismatched()
        for name in SERVICE_ROUTES:
            self.admin("POST", f"/api/routes/{name}/diff/reset", {})

    def mismatched(self) -> int:
        """Mismatches counted so far, those before a reset included."""
        total = self._carried
        for name in SERVICE_ROUTES:
            answer = self._admin.get(f"/api/routes/{name}/diff")
            if answer.status_code == 200:
                total += int(answer.json().get("mismatched", 0))
        return total

    # -- plumbing ----------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = self._admin.request(method, path, json=body)
        if answer.status_code >= 400:
            raise StoryFailed(
                f"proxy admin API {method} {path}: HTTP {answer.status_code} {answer.text[:200]}"
            )
        return answer.json()

    def manage(self, *args: str) -> str:
        from io import StringIO

        from django.core.management import call_command
        from django.core.management.base import CommandError

        out = StringIO()
        try:
            call_command(*args, stdout=out)
        except CommandError as exc:
            raise StoryFailed(f"manage.py {' '.join(args)}: {exc}") from None
        return out.getvalue()

    # -- the summary -------------------------------------------------------------------------
    def write_summary(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        rows = [{k: v for k, v in vars(p).items()} for p in self.phases]
        for row in rows:
            row["p50_ms"], row["p99_ms"], row["seconds"] = (
                round(row[k], 1) for k in ("p50_ms", "p99_ms", "seconds")
            )
        _write(self.out / "summary.json", json.dumps(rows, indent=2) + "\n")
        _write(self.out / "summary.md", markdown(self.phases))
        chart(self.phases, self.out / "phases.png")

    def print_summary(self) -> None:
        table = Table(title="make demo: the catalog and checkout moved out of the shop")
        for column in (
            "phase",
            "s",
            "requests",
            "errors",
            "mismatches",
            "p50 ms",
            "p99 ms",
            "checkouts",
            "note",
        ):
            table.add_column(column, justify="left" if column in ("phase", "note") else "right")
        for p in self.phases:
            table.add_row(p.phase, f"{p.seconds:.0f}", str(p.requests),
                          f"[red]{p.errors}[/red]" if p.errors else "0", str(p.mismatches),
                          f"{p.p50_ms:.0f}", f"{p.p99_ms:.0f}", str(p.checkouts), p.note)  # fmt: skip
        console.print(table)
        for p in self.phases:
            for sample in p.error_samples:
                console.print(f"  [red]{p.phase}[/red]: {sample}")


def worker_runs_a_task(stack: Stack) -> float:
    """The Celery worker is not only up: a real task went through the broker and it ran it."""
    from legacy_monolith.demo import WorkerFailed, prove_worker

    try:
        return prove_worker(stack.stopped)
    except WorkerFailed as exc:
        raise StackError(str(exc)) from None


def import_catalog_routes(stack: Stack, routes_dir: Path, *, replace: bool) -> list[str]:
    """The plan's routes the catalog service serves, put into the proxy in one change, on the
    monolith. With `replace` the table is set to exactly these; without, only the missing ones
    are added (a restarted stack keeps where its routes were moved to)."""
    found = sorted(routes_dir.glob("*-catalog.json"))
    if not found:
        raise StoryFailed(
            f"the extraction plan wrote no catalog routes ({routes_dir}/*-catalog.json)"
        )
    planned = {r["name"]: r for r in json.loads(found[0].read_text())["routes"]}
    missing = [name for name in SERVICE_ROUTES if name not in planned]
    if missing:
        raise StoryFailed(f"the plan has no route {', '.join(missing)}: see {found[0]}")
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.admin_url, headers=headers, timeout=15) as admin:
        have = set() if replace else {r["name"] for r in admin.get("/api/routes").json()["routes"]}
        routes = [
            {**planned[name], "target": "catalog"} for name in SERVICE_ROUTES if name not in have
        ]
        if routes:
            answer = admin.post("/api/import", json={"routes": routes, "replace": replace,
                                                     "why": f"the catalog's routes from the plan ({found[0].name})"})  # fmt: skip
            if answer.status_code >= 400:
                raise StoryFailed(
                    f"importing the catalog's routes: HTTP {answer.status_code} {answer.text[:200]}"
                )
    return list(SERVICE_ROUTES)


def markdown(phases: list[Phase]) -> str:
    lines = ["# make demo", "",
             "| phase | seconds | requests | errors | mismatches | p50 ms | p99 ms | checkouts | note |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for p in phases:
        lines.append(f"| {p.phase} | {p.seconds:.0f} | {p.requests} | {p.errors} | {p.mismatches} | "
                     f"{p.p50_ms:.0f} | {p.p99_ms:.0f} | {p.checkouts} | {p.note} |")  # fmt: skip
    total = sum(p.errors for p in phases)
    lines += ["", f"Client errors across all phases: {total}.", ""]
    return "\n".join(lines)


def chart(phases: list[Phase], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [p for p in phases if p.requests]
    names = [p.phase for p in shown]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    rates = [p.requests / max(p.seconds, 0.001) for p in shown]
    bars = top.bar(names, rates, color=["#e45756" if p.errors else "#4c78a8" for p in shown])
    for bar, p in zip(bars, shown, strict=True):  # the counts that must be read, not eyed
        top.annotate(f"{p.errors} err\n{p.mismatches} mism", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                     ha="center", va="bottom", fontsize=7, color="#e45756" if p.errors else "#555")  # fmt: skip
    top.set_ylabel("requests / s")
    top.set_ylim(0, max(rates, default=1.0) * 1.3)
    bottom.plot(names, [p.p50_ms for p in shown], marker="o", label="p50")
    bottom.plot(names, [p.p99_ms for p in shown], marker="o", label="p99")
    bottom.set_ylabel("latency, ms")
    bottom.set_yscale("log")
    bottom.legend(loc="upper left", fontsize=8)
    fig.suptitle("make demo: requests, errors and latency per phase")
    fig.tight_layout()
    partial = path.with_name(f".{path.name}.partial.png")
    fig.savefig(partial, dpi=110)
    plt.close(fig)
    partial.replace(path)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def main(
    *, fast: bool, var_dir: Path, port_base: int, postgres: str | None, broker: str | None
) -> int:
    # The demo's own stack, started from nothing each run (var/demo/stack-data, or its own
    # databases on PostgreSQL): a second run tells the same story. `make up` keeps var/ itself.
    out = Path(var_dir).resolve() / "demo"
    stack = Stack(out / "stack-data", port_base=port_base, postgres=postgres, broker=broker,
                  name="figkit_demo")  # fmt: skip
    try:
        stack.check_ports()
        stack.write_files()
        os.environ.update(stack.env())  # this process is the monolith's, for the seam's commands
        os.environ["DJANGO_SETTINGS_MODULE"] = "legacy_monolith.config.settings"
        console.print(f"[bold]make demo[/bold]{' (FAST)' if fast else ''}: var folder {stack.var_dir}, "
                      f"proxy {stack.proxy_url}")  # fmt: skip
        stack.prepare(fresh=True)
        import django

        django.setup()
    except StackError as exc:
        console.print(f"demo: {exc}", style="red")
        return 2
    story = Story(stack, Timing.of(fast), out)
    code = 0
    try:
        story.run()
    except (StackError, StoryFailed, TrafficFailed) as exc:
        # a process that stopped is the cause to name, not what failed after it
        console.print(f"demo: {stack.stopped() or exc}", style="red")
        code = 1
    except KeyboardInterrupt:
        console.print("demo: interrupted")
        code = 130
    finally:
        started = time.monotonic()
        stack.stop()
        if story.phases:
            story.phases.append(
                Phase("stop", seconds=time.monotonic() - started, note="every process stopped")
            )
            story.write_summary()
            story.print_summary()
    errors = sum(p.errors for p in story.phases)
    if code == 0 and errors:
        console.print(f"demo: {errors} client errors; the samples are above", style="red")
        code = 1
    console.print(
        f"summary: {out / 'summary.md'}, {out / 'summary.json'}, chart {out / 'phases.png'}"
    )
    return code
