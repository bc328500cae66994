"""`figkit workshop check N` and `figkit workshop reset` (docs/workshop.md): is the running stack
where step N of the workshop leaves it, and back to where step 1 starts.

Everything is read from outside the stack: the proxy's admin API, the services' own endpoints,
and the seam's management commands run as subprocesses with the stack's environment. So figkit's
process never sets Django up and never opens the shop's databases itself.

A check answers one `Finding` per thing it looks at, "ok ..." or "missing: ... : what to do";
a stack that does not answer is a `StackDown`, one line and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from legacy_monolith.workshop.stack import ROOT, Stack
from legacy_monolith.workshop.story import SERVICE_ROUTES

PLANTED = "workshop-bug"  # the catalog service's live switch (extracted/catalog/api.py)
PLANTED_ROUTE = "api-catalog-product-detail"  # the route whose answers it changes
MIN_COMPARED = 25  # without the stack's proxy.toml: the workshop's [proxy.gates] min_requests
WHY = "figkit workshop reset"
MANAGE = {"monolith": "legacy_monolith/manage.py", "catalog": "extracted/catalog/manage.py"}


class WorkshopError(Exception):
    """A check or the reset cannot go on: one line that says why and what to do."""


class StackDown(WorkshopError):
    """No stack answers where the checks look for it."""


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    todo: str = ""

    def line(self) -> str:
        return f"ok {self.what}" if self.ok else f"missing: {self.what} : {self.todo}"


def ok(what: str) -> Finding:
    return Finding(True, what)


def missing(what: str, todo: str) -> Finding:
    return Finding(False, what, todo)


class Workshop:
    """The running stack, as the checks read it and the reset changes it."""

    def __init__(self, var_dir: Path, port_base: int = 8000) -> None:
        self.stack = Stack(var_dir, port_base=port_base)
        self.var_dir = self.stack.var_dir
        self.admin_url = (os.environ.get("FIGKIT_ADMIN_URL") or self.stack.admin_url).rstrip("/")
        self.token_file = Path(
            os.environ.get("FIGKIT_ADMIN_TOKEN_FILE") or self.stack.token_file
        ).resolve()
        self.marker = self.var_dir / "workshop-reset.json"
        self._http = httpx.Client(timeout=3.0)
        self._admin: httpx.Client | None = None

    def close(self) -> None:
        self._http.close()
        if self._admin is not None:
            self._admin.close()

    def __enter__(self) -> Workshop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, part: str) -> str:
        return self.stack.url(part)

    # -- is it there -----------------------------------------------------------------------
    def ensure_running(self) -> None:
        """StackDown unless the proxy's admin API and the monolith answer, with a token to ask."""
        start = (
            "start it with `make up` in another terminal (or `figkit workshop up`), "
            "or pass the --var and --port-base it runs with"
        )
        try:
            self._http.get(f"{self.admin_url}/healthz").raise_for_status()
        except httpx.HTTPError:
            raise StackDown(
                f"no stack answers at {self.admin_url} (the proxy's admin API): {start}"
            ) from None
        try:
            self._http.get(f"{self.url('monolith')}/api/health").raise_for_status()
        except httpx.HTTPError:
            raise StackDown(
                f"the proxy answers at {self.admin_url} but no monolith at {self.url('monolith')}: {start}"
            ) from None
        if self._admin is not None:
            return
        token = os.environ.get("FIGKIT_ADMIN_TOKEN", "").strip()
        if not token:
            try:
                token = self.token_file.read_text().strip()
            except OSError:
                raise StackDown(
                    f"no admin token at {self.token_file}: {start} (the stack writes it there)"
                ) from None
        self._admin = httpx.Client(
            base_url=self.admin_url, timeout=15.0, headers={"Authorization": f"Bearer {token}"}
        )

    # -- the proxy's admin API ---------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict | None = None, **params: Any) -> Any:
        if self._admin is None:
            self.ensure_running()
        assert self._admin is not None
        try:
            answer = self._admin.request(method, path, json=body, params=params or None)
        except httpx.HTTPError as exc:
            raise StackDown(
                f"the proxy's admin API at {self.admin_url} stopped answering ({type(exc).__name__})"
            ) from None
        if answer.status_code == 404 and method == "GET":
            return None
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", "")
            except ValueError:
                detail = answer.text[:200]
            raise WorkshopError(
                f"the proxy's admin API, {method} {path}: HTTP {answer.status_code} {detail}"
            )
        return answer.json()

    def routes(self) -> dict[str, dict]:
        return {r["name"]: r for r in self.admin("GET", "/api/routes")["routes"]}

    def diff(self, route: str) -> dict | None:
        return self.admin("GET", f"/api/routes/{route}/diff")

    def history_since_reset(self) -> list[dict]:
        """The route changes since the last `figkit workshop reset`, oldest first."""
        after = 0
        if self.marker.exists():
            after = int(json.loads(self.marker.read_text()).get("route_table_version", 0))
        changes = self.admin("GET", "/api/history", limit=10_000)["changes"]
        return sorted((c for c in changes if c["version"] > after), key=lambda c: c["version"])

    def breaker(self, upstream: str) -> str:
        """closed, half_open or open. The proxy's workers hand their figures over once a second,
        so a breaker seen not closed is looked at again a second later before it counts."""
        for wait in (0.0, 1.2):
            time.sleep(wait)
            state = (self.admin("GET", "/api/overview").get("breakers") or {}).get(upstream)
            if state in (None, "closed"):
                return "closed"
        return str(state)

    def min_compared(self) -> int:
        """What promote's gate wants before a route leaves shadow: the stack's min_requests."""
        try:
            config = tomllib.loads((self.stack.folder / "proxy.toml").read_text())
            return int(config["proxy"]["gates"]["min_requests"])
        except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
            return MIN_COMPARED

    # -- the services --------------------------------------------------------------------------
    def get(self, url: str) -> httpx.Response | str:
        """The answer, or what went wrong in a few words."""
        try:
            return self._http.get(url)
        except httpx.TimeoutException:
            return "no answer within 3 s"
        except httpx.HTTPError as exc:
            return type(exc).__name__

    def role(self, part: str) -> str:
        """What the seam on `part` says it is for the catalog: owner or follower."""
        answer = self.get(f"{self.url(part)}/seam/status/")
        if isinstance(answer, str) or answer.status_code != 200:
            said = answer if isinstance(answer, str) else f"HTTP {answer.status_code}"
            raise WorkshopError(f"the {part}'s /seam/status/ does not answer ({said})")
        return str(answer.json()["domains"]["catalog"]["role"])

    # -- management commands, as subprocesses ----------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The stack's environment: what it wrote to <var>/stack/.env when it started (its
        databases, broker and secrets), with the URLs of this port base."""
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(_read_env(self.stack.folder / ".env") or self.stack.env())
        env.update(
            MONOLITH_URL=self.url("monolith"), CATALOG_URL=self.url("catalog"),
            PAYMENTS_URL=self.url("payments"), FIGKIT_ADMIN_URL=self.admin_url,
            FIGKIT_ADMIN_TOKEN_FILE=str(self.token_file),
        )  # fmt: skip
        return env

    def manage(self, side: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [sys.executable, MANAGE[side], *args], cwd=ROOT, env=self.environment(),
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise WorkshopError(
                f"`{MANAGE[side]} {' '.join(args)}` did not finish within {timeout:.0f} s"
            ) from None

    def manage_json(self, side: str, *args: str) -> Any:
        done = self.manage(side, *args)
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise WorkshopError(
                f"`{MANAGE[side]} {' '.join(args)}` failed: {last_line(done)}"
            ) from None

    def switch(self, side: str, name: str) -> dict:
        return self.manage_json(side, "switch", name, "--json")

    def reconcile(self) -> Finding:
        result = self.manage_json("monolith", "reconcile", "catalog", "--json")
        differences, checked = len(result["differences"]), result["checked"]
        if differences == 0 and checked > 0:
            return ok(f"reconcile catalog: {checked} rows checked on both sides, no difference")
        return missing(
            f"reconcile catalog finds {differences} difference(s) in {checked} rows",
            f"backfill the service: `{typed('monolith', 'backfill catalog --wait 60')}`",
        )


def typed(side: str, command: str) -> str:
    """A management command as the reader types it, in a shell with the stack's environment."""
    return f".venv/bin/python {MANAGE[side]} {command}"


def last_line(done: subprocess.CompletedProcess) -> str:
    """The last line a command wrote, its error first."""
    return ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]


def _read_env(path: Path) -> dict[str, str]:
    """A .env as stack.py writes it: KEY=VALUE, values with spaces or quotes in single quotes."""
    if not path.exists():
        return {}
    env = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def _shown(path: Path) -> str:
    """A path as typed from the repository root."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _mode(route: dict) -> str:
    return str(route["policy"]["mode"])


def _options(route: dict | None) -> dict:
    return ((route or {}).get("policy") or {}).get("options") or {}


# -- the steps ----------------------------------------------------------------------------------
def report(ws: Workshop) -> list[Finding]:
    """1. The coupling report exists and its plan has the catalog, the boundary we cut first."""
    folder = ws.var_dir / "report"
    analyse = (
        f"`.venv/bin/figkit analyze legacy_monolith --out {_shown(folder)} --format html,json`"
    )
    found = []
    for name in ("report.html", "analysis.json"):
        path = folder / name
        what = f"the report's {name}, {_shown(path)}"
        found.append(ok(what) if path.exists() else missing(what, analyse))
    if not (folder / "analysis.json").exists():
        return found
    try:
        analysis = json.loads((folder / "analysis.json").read_text())
        plan = [entry["service"] for entry in analysis["plan"] if not entry["stays_in_monolith"]]
        services = {s["name"] for s in analysis["services"]}
    except (ValueError, KeyError, TypeError):
        return [*found, missing("a readable analysis.json", analyse)]
    if "catalog" in services and "catalog" in plan:
        found.append(ok(f"the plan extracts catalog as number {plan.index('catalog') + 1} of "
                        f"{len(plan)} (number 1, the cheapest cut: {plan[0]})"))  # fmt: skip
    else:
        found.append(missing("the service catalog in the report's plan", analyse))
    config = ROOT / "legacy_monolith" / "figkit.toml"
    declared = tomllib.loads(config.read_text()).get("boundaries", {})
    if "catalog" in declared:
        found.append(
            ok(
                f"{_shown(config)} declares the boundary catalog = {json.dumps(declared['catalog'])}"
            )
        )
    else:
        found.append(missing(f"the boundary catalog in {_shown(config)}",
                             'add `[boundaries]` with `catalog = ["catalog"]`'))  # fmt: skip
    return found


def extracted(ws: Workshop) -> list[Finding]:
    """2. The catalog service runs: ready, and its API described."""
    catalog = ws.url("catalog")
    todo = "the catalog service runs under `make up` (process catalog.1); look at its output there"
    found = []
    ready = ws.get(f"{catalog}/readyz")
    if isinstance(ready, str) or ready.status_code != 200:
        said = ready if isinstance(ready, str) else f"HTTP {ready.status_code}: {ready.text[:120]}"
        found.append(missing(f"the catalog service ready at {catalog}/readyz ({said})", todo))
    else:
        found.append(ok(f"the catalog service is ready at {catalog}/readyz"))
    api = ws.get(f"{catalog}/api/openapi.json")
    if isinstance(api, str) or api.status_code != 200:
        said = api if isinstance(api, str) else f"HTTP {api.status_code}"
        found.append(missing(f"its OpenAPI at {catalog}/api/openapi.json ({said})", todo))
    else:
        paths = sorted(api.json().get("paths", {}))
        found.append(ok(f"its OpenAPI ({catalog}/api/docs) describes {', '.join(paths)}"))
    return found


def backfilled(ws: Workshop) -> list[Finding]:
    """3. The service has every catalog row the monolith has."""
    return [ws.reconcile()]


def shadowed(ws: Workshop) -> list[Finding]:
    """4. Every catalog route in shadow mode, with enough comparisons to judge it by."""
    routes, least = ws.routes(), ws.min_compared()
    found = []
    for name in SERVICE_ROUTES:
        route = routes.get(name)
        if route is None:
            found.append(missing(f"the route {name}", "`figkit workshop reset` puts the plan's catalog routes back"))  # fmt: skip
        elif _mode(route) != "shadow":
            found.append(missing(f"{name} in shadow mode (it is in {_mode(route)})",
                                 f'`.venv/bin/figkit routes promote {name} --why "compare"`'))  # fmt: skip
        else:
            compared = (ws.diff(name) or {}).get("compared", 0)
            if compared >= least:
                found.append(ok(f"{name} in shadow mode, {compared} requests compared"))
            else:
                found.append(missing(f"{least} requests compared on {name} ({compared} so far)",
                                     "send traffic through the proxy (docs/workshop.md, step 4)"))  # fmt: skip
    return found


def fixed(ws: Workshop) -> list[Finding]:
    """5. The planted mismatch switched off, and none seen since the figures were reset."""
    found = []
    planted = ws.switch("catalog", PLANTED)["value"]
    if planted == "off":
        found.append(ok(f"the planted mismatch is switched off ({PLANTED}: off)"))
    else:
        found.append(missing(f"the planted mismatch switched off ({PLANTED}: {planted})",
                             f"find it with `.venv/bin/figkit routes diff {PLANTED_ROUTE}`, then "
                             f"`{typed('catalog', f'switch {PLANTED} off')}`"))  # fmt: skip
    diff, least = ws.diff(PLANTED_ROUTE), ws.min_compared()
    if diff is None:
        return [*found, missing(f"the route {PLANTED_ROUTE}", "`figkit workshop reset`")]
    compared, mismatched = diff["compared"], diff["mismatched"]
    reset = f"`.venv/bin/figkit routes diff {PLANTED_ROUTE} --reset`, then send traffic"
    if mismatched:
        found.append(missing(f"no mismatch on {PLANTED_ROUTE} since its figures were reset "
                             f"({mismatched} of {compared} compared)", f"once it is fixed, {reset}"))  # fmt: skip
    elif compared < least:
        found.append(missing(f"{least} requests compared on {PLANTED_ROUTE} since the reset "
                             f"({compared} so far)", "send traffic through the proxy"))  # fmt: skip
    else:
        found.append(ok(f"{PLANTED_ROUTE}: {compared} compared, none mismatched"))
    return found


def _modes(ws: Workshop, wanted: str, todo: Callable[[str], str]) -> list[Finding]:
    routes, found = ws.routes(), []
    for name in SERVICE_ROUTES:
        route = routes.get(name)
        mode = _mode(route) if route else "missing"
        percent = _options(route).get("canary", {}).get("percent") if route else None
        if mode == wanted and (wanted != "canary" or (percent or 0) > 0):
            split = f", {percent:g}% of users on the service" if wanted == "canary" else ""
            found.append(ok(f"{name} in {wanted} mode{split}"))
        else:
            now = f"{mode} {percent:g}%" if mode == "canary" and percent is not None else mode
            found.append(missing(f"{name} in {wanted} mode (it is in {now})", todo(name)))
    return found


def canary(ws: Workshop) -> list[Finding]:
    """6. Every catalog route in canary mode, a share of users on the service."""
    return _modes(ws, "canary", lambda n: f'`.venv/bin/figkit routes promote {n} --why "canary"`')


def cut_over(ws: Workshop) -> list[Finding]:
    """7. Every catalog route served by the service."""
    return _modes(ws, "service", lambda n: f'`.venv/bin/figkit routes promote {n} --why "cut over"` '
                                          "until it reaches service")  # fmt: skip


def flipped(ws: Workshop) -> list[Finding]:
    """8. The catalog service owns the catalog's data; the monolith follows, and both agree."""
    flip = "`" + typed("monolith", 'flip_ownership catalog --to service --reason "step 8"') + "`"
    found = []
    for part, role, what in (("catalog", "owner", "the catalog service owns the catalog"),
                             ("monolith", "follower", "the monolith follows it")):  # fmt: skip
        now = ws.role(part)
        found.append(ok(what) if now == role else missing(f"{what} (its seam says {now})", flip))
    return [*found, ws.reconcile()]


def saga(ws: Workshop) -> list[Finding]:
    """9. Checkout switched to the saga, and a checkout completed as one since."""
    switched = ws.switch("monolith", "checkout")
    if switched["value"] != "saga":
        return [missing(f"checkout switched to the saga (it is {switched['value']})",
                        f"`{typed('monolith', 'switch checkout saga')}`")]  # fmt: skip
    found = [ok(f"checkout switched to the saga at {switched['set_at'] or 'start'}")]
    listed = ws.manage_json("monolith", "saga", "list", "--status", "completed", "--json",
                            "--limit", "200")  # fmt: skip
    since = datetime.fromisoformat(switched["set_at"]) if switched["set_at"] else None
    done = [s for s in listed["sagas"] if s["saga"] == "checkout"
            and (since is None or datetime.fromisoformat(s["created_at"]) >= since)]  # fmt: skip
    if done:
        found.append(ok(f"{len(done)} checkout(s) completed as sagas since the switch"))
    else:
        found.append(missing("a checkout completed as a saga since the switch",
                             f"buy something in the shop at {ws.url('proxy')}/ (docs/workshop.md, step 9)"))  # fmt: skip
    return found


def chaos(ws: Workshop) -> list[Finding]:
    """10. A fault was injected on a catalog route and taken off again; the breaker is closed."""
    injected: dict[str, int] = {}  # route -> version the fault went on
    removed: dict[str, tuple[int, int]] = {}  # route -> (on, off)
    for change in ws.history_since_reset():
        name = change["route"]
        if name not in SERVICE_ROUTES:
            continue
        had, has = "fault" in _options(change["before"]), "fault" in _options(change["after"])
        if has and not had:
            injected[name] = change["version"]
        elif had and not has and name in injected:
            removed[name] = (injected.pop(name), change["version"])
    found = []
    if removed:
        name, (on, off) = next(iter(removed.items()))
        found.append(ok(f"a fault went on {name} (route table version {on}) and off again ({off})"))
    elif injected:
        name = next(iter(injected))
        found.append(missing(f"the fault on {name} taken off again",
                             f'`.venv/bin/figkit routes fault {name} --off --why "chaos over"`'))  # fmt: skip
    else:
        found.append(missing("a fault injected on a catalog route since the reset",
                             '`.venv/bin/figkit routes fault api-catalog-product-list --abort 503 '
                             '--percent 50 --why "chaos"` (docs/workshop.md, step 10)'))  # fmt: skip
    state = ws.breaker("catalog")
    if state == "closed":
        found.append(ok("the catalog's circuit breaker is closed"))
    else:
        found.append(missing(f"the catalog's circuit breaker closed (it is {state})",
                             "let the service answer again (kill -CONT), then send a few requests"))  # fmt: skip
    return found


def rolled_back(ws: Workshop) -> list[Finding]:
    """11. Each catalog route rolled back from service since the reset, and in service again."""
    back: dict[str, int] = {}
    for change in ws.history_since_reset():
        before = change["before"] or {}
        if (change["action"] in ("rollback", "auto-rollback") and change["route"] in SERVICE_ROUTES
                and (before.get("policy") or {}).get("mode") == "service"):  # fmt: skip
            back.setdefault(change["route"], change["version"])
    routes, found = ws.routes(), []
    for name in SERVICE_ROUTES:
        mode = _mode(routes[name]) if name in routes else "missing"
        if name not in back:
            found.append(missing(f"{name} rolled back from service since the reset",
                                 '`.venv/bin/figkit routes rollback all --why "roll back"`'))  # fmt: skip
        elif mode != "service":
            found.append(missing(f"{name} in service mode again (it is in {mode})",
                                 f'`.venv/bin/figkit routes set-mode {name} service --why "forward again"`'))  # fmt: skip
        else:
            found.append(ok(f"{name} rolled back (version {back[name]}) and in service again"))
    return found


STEPS: dict[int, Callable[[Workshop], list[Finding]]] = {
    1: report, 2: extracted, 3: backfilled, 4: shadowed, 5: fixed, 6: canary,
    7: cut_over, 8: flipped, 9: saga, 10: chaos, 11: rolled_back,
}  # fmt: skip


def check(ws: Workshop, step: int) -> list[Finding]:
    ws.ensure_running()
    return STEPS[step](ws)


# -- back to the start ------------------------------------------------------------------------
def reset(ws: Workshop, say: Callable[[str], None] = print) -> None:
    """Step 0: the catalog owned by the monolith, its routes on the monolith as the plan has
    them (no fault, no canary), their diff figures reset, checkout atomic, the planted mismatch
    on; the route table's version noted, so the checks look only at changes after it."""
    ws.ensure_running()
    if ws.role("catalog") == "owner" or ws.role("monolith") != "owner":
        done = ws.manage("monolith", "flip_ownership", "catalog", "--to", "monolith",
                         "--reason", WHY)  # fmt: skip
        if done.returncode != 0:
            raise WorkshopError(
                f"flipping the catalog back to the monolith failed: {last_line(done)}"
            )
        say(f"reset: {done.stdout.strip().splitlines()[-1]}")
    planned = _planned_routes(ws)
    ws.admin("POST", "/api/import", {"routes": planned, "replace": False, "why": WHY})
    for route in planned:
        ws.admin("POST", f"/api/routes/{route['name']}/diff/reset", {})
    say(
        f"reset: {len(planned)} catalog routes on the monolith as the plan has them, their diff figures reset"
    )
    with ThreadPoolExecutor(2) as pool:  # two Django start-ups at once
        checkout = pool.submit(ws.manage, "monolith", "switch", "checkout", "atomic")
        planted = pool.submit(ws.manage, "catalog", "switch", PLANTED, "on")
        for what, done in (
            ("checkout atomic", checkout.result()),
            (f"{PLANTED} on", planted.result()),
        ):
            if done.returncode != 0:
                raise WorkshopError(f"switching {what} failed: {last_line(done)}")
            say(f"reset: {done.stdout.strip()}")
    version = ws.admin("GET", "/api/routes")["version"]
    at = datetime.now(UTC).isoformat(timespec="seconds")
    ws.marker.write_text(json.dumps({"at": at, "route_table_version": version}) + "\n")
    say(
        f"reset: the stack is at step 0 (route table version {version}); `figkit workshop check 1` next"
    )


def _planned_routes(ws: Workshop) -> list[dict]:
    """The catalog routes the service serves, from the extraction plan's route file."""
    found = sorted((ws.var_dir / "report" / "routes").glob("*-catalog.json"))
    if not found:
        raise WorkshopError(
            f"no catalog route file under {_shown(ws.var_dir / 'report' / 'routes')}: run "
            f"`.venv/bin/figkit analyze legacy_monolith --out {_shown(ws.var_dir / 'report')} --format html,json` first"
        )
    planned = {r["name"]: r for r in json.loads(found[0].read_text())["routes"]}
    absent = [name for name in SERVICE_ROUTES if name not in planned]
    if absent:
        raise WorkshopError(f"the plan {found[0]} has no route {', '.join(absent)}")
    return [{**planned[name], "target": "catalog", "mode": "monolith"} for name in SERVICE_ROUTES]


# -- the commands -----------------------------------------------------------------------------
def main_check(step: int, *, var_dir: Path, port_base: int) -> int:
    """0 when every finding holds, 1 when one is missing, 2 when the stack does not answer."""
    try:
        with Workshop(var_dir, port_base) as ws:
            findings = check(ws, step)
    except WorkshopError as exc:
        print(f"check {step}: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1


def main_reset(*, var_dir: Path, port_base: int) -> int:
    started = time.monotonic()
    try:
        with Workshop(var_dir, port_base) as ws:
            reset(ws)
    except StackDown as exc:
        print(f"reset: {exc}", file=sys.stderr)
        return 2
    except WorkshopError as exc:
        print(f"reset: {exc}", file=sys.stderr)
        return 1
    print(f"reset: done in {time.monotonic() - started:.1f} s")
    return 0
