"""The `service` mode: the route's traffic goes to its target upstream instead of the monolith."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from strangler_proxy.datapath import Exchange


class ToService:
    name: ClassVar[str] = "service"
    tee_request: ClassVar[int] = 0

    def __init__(self, target: str) -> None:
        self.target = target

    def choose(self, exchange: Exchange) -> str:
        return self.target
