"""`figkit routes promote`: one step along shadow -> canary ladder -> service, when the figures allow.

The steps: monolith -> shadow -> canary at each percentage of `[proxy.gates] ladder` ->
service. Leaving shadow needs the shadow comparison to pass: at least `min_requests`
compared, the mismatch rate and the service's error rate on mirrored requests at or
under their maxima, and a body that is compared: when the proxy has learnt the whole body
`$` as noise (the monolith's own answers differ every time, as a page with a CSRF token
does), no mismatch can be seen in it, and the gate asks for that to be said on purpose
(`ignore` `$`) instead of passing on a comparison of nothing. Each canary step needs at
least `min_requests` served by the service with its error rate at or under `max_error_rate`. Figures are counted from the
route's last change (so a step is judged on its own traffic) and over at most the
last `window_seconds`, summed over every worker through the store. A refusal names the
number that stopped it, as Flagger's analysis does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from strangler_proxy.config import GatesConfig
from strangler_proxy.diffing import WHOLE_BODY
from strangler_proxy.errors import GateClosed, RouteError
from strangler_proxy.routing import Route
from strangler_proxy.store import RouteStore


@dataclass(frozen=True)
class Step:
    mode: str
    percent: float | None  # the canary percentage, for a canary step

    def __str__(self) -> str:
        return f"canary {self.percent:g}%" if self.percent is not None else self.mode


def current(route: Route) -> Step:
    if route.policy.mode == "canary":
        return Step("canary", float(route.policy.options["canary"]["percent"]))
    return Step(route.policy.mode, None)


def next_step(route: Route, ladder: list[float]) -> Step:
    """Where promote takes the route from where it is."""
    mode = route.policy.mode
    if mode == "monolith":
        return Step("shadow", None)
    if mode == "shadow":
        return Step("canary", ladder[0])
    if mode == "canary":
        percent = float(route.policy.options["canary"]["percent"])
        higher = [p for p in ladder if p > percent]
        return Step("canary", higher[0]) if higher else Step("service", None)
    raise RouteError(
        f"route {route.name!r} is in mode {mode!r}: promote walks monolith -> shadow -> canary -> "
        "service; use `figkit routes set-mode` or `rollback`"
    )


def measured(store: RouteStore, name: str, gates: GatesConfig, now: float | None = None) -> dict:
    """The route's figures since its last change, within the window."""
    now = time.time() if now is None else now
    changed = store.last_change(name) or 0.0
    since = max(now - gates.window_seconds, changed)
    counts = store.window(name, math.ceil(since))  # whole seconds after the change only
    compared = counts["compared"]
    noise = store.noise([name]).get(name, set())
    mirrored = compared + counts["shadow_errors"]
    return {
        **counts,
        "since": since,
        "mismatch_rate": counts["mismatched"] / compared if compared else 0.0,
        "shadow_error_rate": counts["shadow_errors"] / mirrored if mirrored else 0.0,
        "error_rate": counts["errors"] / counts["requests"] if counts["requests"] else 0.0,
        "body_is_noise": WHOLE_BODY in noise,
    }


def body_unseen(route: Route, figures: dict[str, Any]) -> bool:
    """The whole body is learnt as noise, and the route does not ignore it on purpose."""
    shadow = route.policy.options.get("shadow") or {}
    return bool(figures.get("body_is_noise")) and WHOLE_BODY not in (shadow.get("ignore") or ())


def verdict(route: Route, figures: dict[str, Any], gates: GatesConfig) -> str | None:
    """Why the route may not take its next step now, or None when it may."""
    mode = route.policy.mode
    window = f"since the route's last change, within the last {gates.window_seconds:g} s"
    if mode == "shadow":
        n = figures["compared"]
        if n < gates.min_requests:
            return (
                f"only {n} shadow comparisons {window}; min_requests is {gates.min_requests} "
                "([proxy.gates]): send more traffic or wait"
            )
        if body_unseen(route, figures):
            return (
                "the whole body is learnt as noise (two answers of the monolith to the same "
                "request differ everywhere: a CSRF token or a timestamp in a page?), so no "
                "mismatch in it can be seen. Compare a JSON route, or say on purpose that only "
                f"status and headers count: `figkit routes set-mode {route.name} shadow "
                "--ignore '$'` (then let the gate count again)"
            )
        if figures["mismatch_rate"] > gates.max_mismatch_rate:
            return (
                f"mismatch rate {figures['mismatch_rate']:.1%} ({figures['mismatched']} of {n} "
                f"compared) is over max_mismatch_rate {gates.max_mismatch_rate:.1%}: "
                f"see `figkit routes diff {route.name}`"
            )
        if figures["shadow_error_rate"] > gates.max_error_rate:
            return (
                f"the service failed {figures['shadow_error_rate']:.1%} of mirrored requests "
                f"({figures['shadow_errors']}), over max_error_rate {gates.max_error_rate:.1%}"
            )
        return None
    if mode == "canary":
        n = figures["requests"]
        if n < gates.min_requests:
            return (
                f"only {n} requests reached the service {window}; min_requests is "
                f"{gates.min_requests} ([proxy.gates]): send more traffic or wait"
            )
        if figures["error_rate"] > gates.max_error_rate:
            return (
                f"the service's error rate {figures['error_rate']:.1%} ({figures['errors']} of "
                f"{n}) is over max_error_rate {gates.max_error_rate:.1%}"
            )
    return None


def refuse(route: Route, step: Step, reason: str) -> GateClosed:
    return GateClosed(f"promote {route.name!r} to {step} refused: {reason}")


def summary(route: Route, figures: dict[str, Any]) -> str:
    """The figures a step was taken on, for the audit log."""
    mode = route.policy.mode
    if mode == "shadow":
        return (
            f"gate: {figures['compared']} compared, {figures['mismatch_rate']:.1%} mismatched, "
            f"{figures['shadow_error_rate']:.1%} service errors"
        )
    if mode == "canary":
        return f"gate: {figures['requests']} served, {figures['error_rate']:.1%} errors"
    return "gate: none for this step"
