"""What a route makes the proxy do: its mode, and per-behaviour options.

A route carries one `Policy` instead of a growing `Mode` literal. The mode says who serves
the route (`monolith`: the default upstream; `service`: the route's target); the options
hold the settings of the behaviours the route runs (shadow, canary, ...), keyed by the
behaviour's name. A new behaviour registers its mode (`register_mode`) and its option key
(`register_behaviour`) in its own file; nothing here grows a Literal.

JSON form: `{"mode": "service"}`, with `"options": {...}` only when there are some.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from strangler_proxy.errors import RouteError

# Mode name -> what it does, in the order messages list them.
MODES: dict[str, str] = {
    "monolith": "the default upstream (the monolith) serves the route",
    "service": "the route's target serves it (cut over)",
}
# Behaviour names that may appear as keys of a policy's options (none yet).
BEHAVIOURS: set[str] = set()
# Behaviour name -> a check of its settings that raises RouteError with what to write instead.
VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {}
# Mode -> the option key whose settings the mode needs (canary needs its percent).
NEEDS: dict[str, str] = {}

MAX_OPTION_DEPTH = 8


def register_mode(name: str, description: str = "", needs: str | None = None) -> None:
    """Make `name` a mode routes may be set to (a behaviour's module calls this once).

    `needs` names the option key a route in this mode must carry settings for.
    """
    if not name or not name.isidentifier():
        raise ValueError(f"a mode name is a plain word, not {name!r}")
    MODES.setdefault(name, description)
    if needs is not None:
        NEEDS[name] = needs


def register_behaviour(
    name: str, validate: Callable[[Mapping[str, Any]], None] | None = None
) -> None:
    """Allow `name` as a key of a policy's options; `validate` checks its settings."""
    if not name or not name.isidentifier():
        raise ValueError(f"a behaviour name is a plain word, not {name!r}")
    BEHAVIOURS.add(name)
    if validate is not None:
        VALIDATORS[name] = validate


def load_behaviours() -> None:
    """Register the built-in behaviours' modes and options (they live in behaviours/)."""
    from strangler_proxy.behaviours import load_builtin

    load_builtin()


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping, so a Policy (and the Route holding it) stays frozen."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _freeze(value: Any, where: str, depth: int = 0) -> Any:
    """JSON data made immutable: objects become FrozenMaps, lists tuples."""
    if depth > MAX_OPTION_DEPTH:
        raise RouteError(f"policy option {where} nests deeper than {MAX_OPTION_DEPTH} levels")
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise RouteError(f"policy option {where} has a key that is not a string")
        return FrozenMap({k: _freeze(v, f"{where}.{k}", depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise RouteError(f"policy option {where} must be JSON (got {type(value).__name__})")


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Policy:
    """A route's mode and its behaviours' options; frozen and hashable."""

    mode: str = "monolith"
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        if not isinstance(self.options, FrozenMap):
            if not isinstance(self.options, Mapping):
                raise RouteError("policy 'options' must be an object keyed by behaviour name")
            object.__setattr__(self, "options", _freeze(self.options, "options"))

    def validate(self, route: str = "") -> None:
        """Refuse an unknown mode or options for a behaviour this proxy does not have."""
        load_behaviours()
        of = f" for route {route!r}" if route else ""
        if not isinstance(self.mode, str) or self.mode not in MODES:
            raise RouteError(f"bad mode {self.mode!r}{of}: use {' or '.join(MODES)}")
        for name, settings in self.options.items():
            if name not in BEHAVIOURS:
                known = ", ".join(sorted(BEHAVIOURS)) or "none yet"
                raise RouteError(
                    f"unknown behaviour {name!r} in the policy options{of} (known: {known})"
                )
            if not isinstance(settings, Mapping):
                raise RouteError(f"policy options[{name!r}]{of} must be an object of settings")
            check = VALIDATORS.get(name)
            if check is not None:
                try:
                    check(settings)
                except RouteError as exc:
                    raise RouteError(f"{name}{of}: {exc}") from None
        needed = NEEDS.get(self.mode)
        if needed is not None and needed not in self.options:
            raise RouteError(
                f"mode {self.mode!r}{of} needs its settings in the policy options[{needed!r}]"
            )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode}
        if self.options:
            data["options"] = _thaw(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Policy:
        """Build and validate a policy from its JSON form."""
        if not isinstance(data, Mapping):
            raise RouteError('route field \'policy\' must be an object, as {"mode": "service"}')
        unknown = set(data) - {"mode", "options"}
        if unknown:
            raise RouteError(f"unknown policy field(s): {', '.join(sorted(map(str, unknown)))}")
        mode = data.get("mode", "monolith")
        if not isinstance(mode, str):
            raise RouteError(f"policy 'mode' must be a string: use {' or '.join(MODES)}")
        options = data.get("options")
        policy = cls(mode, {} if options is None else options)
        policy.validate()
        return policy
