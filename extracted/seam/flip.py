"""The ownership flip: the order in which a domain's writer changes without losing a write.

    1. hold    writes pause on both sides (503 + Retry-After to clients; see ownership.WritesHeld)
    2. drain   the owner's outbox empties and the follower has applied its last event
    3. reconcile  both sides agree row by row; if not, the flip is aborted and writes resume
    4. switch  the owner becomes follower, then the follower owner, under a new epoch; the
               strangler proxy's write routes (if named) now go to the new owner, and the flip
               waits until every proxy worker has seen the change
    5. release writes resume, now on the new owner

Every step is bounded in time; a step that runs out aborts the flip and releases the hold, so
the worst a client sees is the bounded pause. The pause is measured and audited with the flip.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import httpx
from django.utils import timezone

from extracted.seam import ownership
from extracted.seam import settings as seam_settings
from extracted.seam.events import SeamError
from extracted.seam.models import DeadLetter, InboxEvent, OutboxEvent, OwnershipChange
from extracted.seam.reconcile import reconcile
from extracted.seam.settings import DomainConfig

HOLD_LIMIT_S = 10.0  # the hold expires by itself if this process dies mid-flip


class FlipAborted(SeamError):
    pass


class Side(Protocol):
    name: str

    def status(self, domain: str) -> dict[str, Any]: ...
    def has_applied(self, event_id: str) -> bool: ...
    def hold(self, domain: str, seconds: float) -> None: ...
    def release(self, domain: str) -> None: ...
    def set_role(self, domain: str, role: str, epoch: int) -> None: ...


class LocalSide:
    def __init__(self) -> None:
        self.name = seam_settings.service_name()

    def status(self, domain: str) -> dict[str, Any]:
        row = ownership.current(domain)
        last = (
            OutboxEvent.objects.filter(domain=domain, sent_at__isnull=False).order_by("-seq")
            .values_list("event_id", flat=True).first()
        )  # fmt: skip
        return {
            "role": row.role,
            "epoch": row.epoch,
            "unsent": OutboxEvent.objects.filter(domain=domain, sent_at__isnull=True).count(),
            "last_sent": str(last) if last else None,
        }

    def has_applied(self, event_id: str) -> bool:
        return (
            InboxEvent.objects.filter(event_id=event_id).exists()
            or DeadLetter.objects.filter(event_id=event_id).exists()
        )

    def hold(self, domain: str, seconds: float) -> None:
        ownership.hold(domain, timezone.now() + timedelta(seconds=seconds))

    def release(self, domain: str) -> None:
        ownership.release(domain)

    def set_role(self, domain: str, role: str, epoch: int) -> None:
        ownership.set_role(domain, role, epoch)


class RemoteSide:
    def __init__(self, config: DomainConfig, client: httpx.Client, token: str) -> None:
        self.name = config.peer
        self.base = config.peer_url.rstrip("/")
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def _get(self, path: str, **params: str) -> dict[str, Any]:
        try:
            response = self.client.get(f"{self.base}{path}", params=params)
        except httpx.HTTPError as exc:
            raise FlipAborted(
                f"{self.name} does not answer at {self.base} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise FlipAborted(
                f"{self.name} answered {response.status_code} to {path}: {response.text[:200]}"
            )
        return response.json()

    def _post(self, domain: str, body: dict[str, Any]) -> None:
        url = f"{self.base}/seam/ownership/{domain}/"
        try:
            response = self.client.post(url, json=body, headers=self.headers)
        except httpx.HTTPError as exc:
            raise FlipAborted(
                f"{self.name} does not answer at {url} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise FlipAborted(
                f"{self.name} refused {body} with {response.status_code}: {response.text[:200]}"
            )

    def status(self, domain: str) -> dict[str, Any]:
        found = self._get("/seam/status/")["domains"].get(domain)
        if found is None:
            raise FlipAborted(f"{self.name} does not know the domain {domain}")
        return found

    def has_applied(self, event_id: str) -> bool:
        return bool(self._get("/seam/status/", applied=event_id).get("applied"))

    def hold(self, domain: str, seconds: float) -> None:
        self._post(
            domain, {"hold_until": (timezone.now() + timedelta(seconds=seconds)).isoformat()}
        )

    def release(self, domain: str) -> None:
        self._post(domain, {"hold_until": None})

    def set_role(self, domain: str, role: str, epoch: int) -> None:
        self._post(domain, {"role": role, "epoch": epoch})


@dataclass
class ProxyRoutes:
    """The strangler proxy's routes that carry the domain's writes. During the flip the proxy
    holds their writes itself (503 + Retry-After, never reaching an upstream, so no breaker
    counts them), and at the switch they move to the new owner and the hold ends, in one change.
    After each change the flip waits `settle_s`, the time every proxy worker takes to see it
    (they poll the route table every 0.25 s by default)."""

    admin_url: str
    token: str
    routes: list[str]
    settle_s: float = 0.35

    def _patch(self, client: httpx.Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.admin_url.rstrip('/')}/api/routes/{name}"
        try:
            response = client.patch(
                url, headers={"Authorization": f"Bearer {self.token}"}, json=body
            )
        except httpx.HTTPError as exc:
            raise FlipAborted(
                f"the proxy's admin API does not answer at {self.admin_url} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise FlipAborted(
                f"the proxy refused {body} for route {name}: {response.status_code} {response.text[:200]}"
            )
        return response.json()["route"]

    def _get(self, client: httpx.Client, name: str) -> dict[str, Any]:
        url = f"{self.admin_url.rstrip('/')}/api/routes/{name}"
        try:
            response = client.get(url, headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as exc:
            raise FlipAborted(
                f"the proxy's admin API does not answer at {self.admin_url} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise FlipAborted(
                f"the proxy has no route {name!r}: {response.status_code} {response.text[:200]}"
            )
        return response.json()["route"]

    def hold(self, client: httpx.Client, seconds: float, why: str) -> None:
        for name in self.routes:
            self._patch(
                client, name, {"options": {"hold": {"until": time.time() + seconds}}, "why": why}
            )
        time.sleep(self.settle_s)

    def switch(self, client: httpx.Client, owner: str, why: str) -> dict[str, str]:
        """Send each route to `owner` (mode service when it is the route's target, else monolith)
        and lift its hold; returns the modes before, to undo."""
        before: dict[str, str] = {}
        for name in self.routes:
            route = self._get(client, name)
            before[name] = route["policy"]["mode"]
            mode = "service" if route["target"] == owner else "monolith"
            self._patch(client, name, {"mode": mode, "options": {"hold": None}, "why": why})
        time.sleep(self.settle_s)
        return before

    def unhold(self, client: httpx.Client, why: str, modes: dict[str, str] | None = None) -> None:
        """Lift the hold (and put the modes back, after a failed switch); never raises."""
        for name in self.routes:
            body: dict[str, Any] = {"options": {"hold": None}, "why": why}
            if modes and name in modes:
                body["mode"] = modes[name]
            with contextlib.suppress(Exception):
                self._patch(client, name, body)


@dataclass
class FlipResult:
    domain: str
    from_owner: str
    to_owner: str
    pause_ms: float = 0.0
    steps_ms: dict[str, float] = field(default_factory=dict)
    outcome: str = "flipped"
    reason: str = ""


def flip(config: DomainConfig, to: str, *, actor: str, reason: str = "", token: str, deadline_s: float = 5.0,
         client: httpx.Client | None = None, proxy: ProxyRoutes | None = None) -> FlipResult:  # fmt: skip
    """Move `config`'s domain to `to` ("monolith", or the peer's name); raises FlipAborted with
    the step that failed after releasing the hold."""
    own_client = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0))
    local, remote = LocalSide(), RemoteSide(config, client, token)
    sides = {local.name: local, remote.name: remote}
    if to not in sides:
        raise SeamError(f"--to must be {local.name} or {remote.name}, not {to!r}")
    try:
        old = next(side for name, side in sides.items() if name != to)
        return _flip(config.name, sides[to], old, config, actor, reason, deadline_s, proxy, client)
    finally:
        if own_client:
            client.close()


def _flip(domain: str, new_owner: Side, old_owner: Side, config: DomainConfig, actor: str, reason: str,
          deadline_s: float, proxy: ProxyRoutes | None, client: httpx.Client) -> FlipResult:  # fmt: skip
    before_old, before_new = old_owner.status(domain), new_owner.status(domain)
    if before_new["role"] == "owner" and before_old["role"] != "owner":
        raise SeamError(
            f"{new_owner.name} already owns {domain} (epoch {before_new['epoch']}); nothing to flip"
        )
    if before_old["role"] != "owner":
        raise SeamError(
            f"{old_owner.name} does not own {domain} either; set the roles by hand (docs/seam.md)"
        )
    epoch = max(before_old["epoch"], before_new["epoch"]) + 1
    result = FlipResult(domain, old_owner.name, new_owner.name)
    started = mark = time.monotonic()
    deadline = started + deadline_s

    def step(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        result.steps_ms[name] = round((now - mark) * 1000, 1)
        mark = now

    # A full comparison before the hold, while writes go on; in the hold, only the rows that
    # differed then or changed since are compared again, so the pause does not grow with the data.
    mark_before = _marks()
    before_check = {}
    for d in reconcile(config, client=client).differences:
        before_check.setdefault(d.aggregate, set()).add(d.id)
    started = mark = time.monotonic()
    deadline = started + deadline_s
    held = False
    proxy_held = switched = False
    why = f"flip {domain} to {new_owner.name}" + (f": {reason}" if reason else "")
    try:
        if proxy is not None:
            proxy_held = True
            proxy.hold(client, deadline_s + HOLD_LIMIT_S, why)
        for side in (old_owner, new_owner):
            side.hold(domain, HOLD_LIMIT_S)
        held = True
        step("hold")
        last = _drain(domain, old_owner, deadline)
        _wait_applied(new_owner, last, deadline)
        step("drain")
        check = _reconciled(config, _touched_since(domain, mark_before, before_check))
        step("reconcile")
        if check:
            raise FlipAborted(
                f"the sides differ in {len(check)} row(s) after draining (first: {check[0]}); run reconcile {domain} --repair"
            )
        old_owner.set_role(domain, "follower", epoch)
        modes: dict[str, str] = {}
        try:
            new_owner.set_role(domain, "owner", epoch)
            if proxy is not None:
                modes = proxy.switch(client, new_owner.name, why)
                switched = True
        except Exception:
            if proxy is not None:
                proxy.unhold(client, f"undo: {why}", modes)
                switched = True
            with contextlib.suppress(Exception):
                new_owner.set_role(domain, "follower", epoch + 1)
            old_owner.set_role(domain, "owner", epoch + 1)
            raise
        step("switch")
    except Exception as exc:
        result.outcome, result.reason = "aborted", str(exc)
        raise
    finally:
        if held:
            for side in (new_owner, old_owner):
                # A side that cannot be reached: its hold expires by itself within HOLD_LIMIT_S.
                with contextlib.suppress(Exception):
                    side.release(domain)
        if proxy_held and not switched:
            proxy.unhold(client, f"abort: {why}")  # type: ignore[union-attr]
        step("release")
        result.pause_ms = round((time.monotonic() - started) * 1000, 1)
        OwnershipChange.objects.create(
            domain=domain, from_owner=old_owner.name, to_owner=new_owner.name, actor=actor,
            reason=reason if result.outcome == "flipped" else f"{reason} (aborted: {result.reason})".strip(),
            outcome=result.outcome, pause_ms=result.pause_ms, details={"steps_ms": result.steps_ms, "epoch": epoch},
        )  # fmt: skip
    return result


def _drain(domain: str, owner: Side, deadline: float) -> str | None:
    while True:
        status = owner.status(domain)
        if status["unsent"] == 0:
            return status["last_sent"]
        if time.monotonic() > deadline:
            raise FlipAborted(
                f"{owner.name}'s outbox still holds {status['unsent']} event(s) of {domain}; is its relay running?"
            )
        time.sleep(0.02)


def _wait_applied(follower: Side, event_id: str | None, deadline: float) -> None:
    if event_id is None:
        return
    while not follower.has_applied(event_id):
        if time.monotonic() > deadline:
            raise FlipAborted(
                f"{follower.name} has not applied event {event_id} yet; is its consumer running?"
            )
        time.sleep(0.02)


def _marks() -> tuple[int, Any]:
    """Where this side's outbox and inbox stand now."""
    from django.db.models import Max

    top = OutboxEvent.objects.aggregate(top=Max("seq"))["top"] or 0
    return top, timezone.now()


def _touched_since(
    domain: str, marks: tuple[int, Any], also: dict[str, set[str]]
) -> dict[str, set[str]]:
    """The domain's rows changed since `marks`: this side's outbox holds the changes it made,
    its inbox the ones it applied from the peer; after the drain that is every change."""
    seq, when = marks
    config = seam_settings.domain(domain)
    names = {a.name for a in config.spec.aggregates}
    touched = {name: set(also.get(name, ())) for name in names}
    for aggregate, key in OutboxEvent.objects.filter(domain=domain, seq__gt=seq).values_list(
        "aggregate_type", "aggregate_id"
    ):
        touched[aggregate].add(key)
    applied = InboxEvent.objects.filter(received_at__gte=when, aggregate_type__in=names)
    for aggregate, key in applied.values_list("aggregate_type", "aggregate_id"):
        touched[aggregate].add(key)
    return touched


def _reconciled(config: DomainConfig, only: dict[str, set[str]]) -> list[str]:
    result = reconcile(config, only=only)
    return [f"{d.kind} {d.aggregate} {d.id}" for d in result.differences]
