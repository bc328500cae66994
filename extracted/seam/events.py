"""What crosses the seam: aggregate types with their schemas, and the envelope every event travels in.

Event types are declared once, as an `AggregateType` in the owning domain's contract module
(for the catalog: `extracted/catalog/contract.py`); every aggregate has two event types,
`<aggregate>.upserted` (the whole new state) and `<aggregate>.deleted`. A payload is validated
against its schema when it is published and again when it is applied.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

UPSERTED, DELETED = "upserted", "deleted"


class SeamError(Exception):
    """A problem a user of the seam can fix; the message says what to do."""


class UnknownEventType(SeamError):
    pass


class InvalidPayload(SeamError):
    pass


@dataclass(frozen=True)
class AggregateType:
    """One kind of aggregate ("catalog.product") with the schema of its state."""

    name: str
    schema: type[BaseModel]
    version: int = 1

    def __post_init__(self) -> None:
        REGISTRY.setdefault(self.name, self)
        if REGISTRY[self.name] is not self:
            raise SeamError(
                f"aggregate type {self.name!r} is declared twice; declare it in one contract module"
            )

    def event_type(self, kind: str) -> str:
        return f"{self.name}.{kind}"

    def validate(self, payload: Any) -> BaseModel:
        """A schema instance from a model instance or a dict; InvalidPayload says which field is wrong."""
        if isinstance(payload, self.schema):
            return payload
        try:
            return self.schema.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            raise InvalidPayload(
                f"{self.name} v{self.version}: {where}: {first['msg']} ({exc.error_count()} error(s) in all)"
            ) from None


REGISTRY: dict[str, AggregateType] = {}


def aggregate_type(name: str) -> AggregateType:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise UnknownEventType(
            f"no aggregate type {name!r} is declared (known: {known}); import its contract module in SEAM['DOMAINS']"
        ) from None


class Envelope(BaseModel):
    """One event as it is stored in the outbox, sent over the broker and kept in the inbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str
    schema_version: int = Field(ge=1)
    aggregate_type: str
    aggregate_id: str
    version: int = Field(ge=0)
    kind: Literal["upserted", "deleted"]
    payload: dict[str, Any] | None
    source: str
    occurred_at: datetime
    traceparent: str | None = None
    # A snapshot event re-states what the owner has; it bumps nothing on the owner's side.
    snapshot: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.aggregate_type, self.aggregate_id)

    def state(self) -> BaseModel | None:
        if self.kind == DELETED:
            return None
        return aggregate_type(self.aggregate_type).validate(self.payload)


def canonical(state: BaseModel | None) -> bytes:
    """The bytes both sides hash: sorted keys, JSON types (decimals as strings), no spaces."""
    if state is None:
        return b"null"
    return json.dumps(state.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def checksum(state: BaseModel | None) -> str:
    return hashlib.sha256(canonical(state)).hexdigest()[:32]
