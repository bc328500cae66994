"""The `service` mode: the route's traffic goes to its target upstream instead of the monolith."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from strangler_proxy.behaviours import for_mode
from strangler_proxy.behaviours.fallback import FallsBack

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange
    from strangler_proxy.routing import Route


class ToService(FallsBack):
    name: ClassVar[str] = "service"

    def __init__(self, route: Route) -> None:
        super().__init__(route)
        self.target = route.target

    def choose(self, exchange: Exchange) -> str:
        return self.target


@for_mode("service", "the route's target serves it (cut over)")
def _service(route: Route) -> ToService:
    return ToService(route)


@for_mode("monolith", "the default upstream (the monolith) serves the route")
def _monolith(route: Route) -> None:
    return None  # the plan's default: nothing to run
