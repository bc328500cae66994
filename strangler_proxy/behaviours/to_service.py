"""The `service` mode: the route's traffic goes to its target upstream instead of the monolith."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from strangler_proxy.behaviours import Behaviour, for_mode

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route


class ToService(Behaviour):
    name: ClassVar[str] = "service"

    def __init__(self, target: str) -> None:
        self.target = target

    def choose(self, exchange: Exchange) -> str:
        return self.target


@for_mode("service", "the route's target serves it (cut over)")
def _service(route: Route) -> ToService:
    return ToService(route.target)


@for_mode("monolith", "the default upstream (the monolith) serves the route")
def _monolith(route: Route) -> None:
    return None  # the plan's default: nothing to run
