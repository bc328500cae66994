"""The `service` mode: the route's traffic goes to its target upstream instead of the monolith."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from strangler_proxy.behaviours import Behaviour

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange


class ToService(Behaviour):
    name: ClassVar[str] = "service"

    def __init__(self, target: str) -> None:
        self.target = target

    def choose(self, exchange: Exchange) -> str:
        return self.target
