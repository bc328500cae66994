"""The user's decomposition settings: `[tool.figkit]` in pyproject.toml, or figkit.toml.

[tool.figkit]
granularity = "app"            # app | module | model
services = 4                   # a target count; leave out to let modularity decide
seed = 42
together = [["orders", "payments"]]      # apps or models that must share a service
apart = [["catalog", "orders"]]          # pairs that must not
[tool.figkit.extracted]                  # services cut out already: name -> apps/models
catalog = ["catalog"]
[tool.figkit.weights]                    # per edge kind, over the defaults
import = 0.5

roles = false   # (top level) no shared kernel, API layers, identity or hub discount: plain clustering
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from analyzer.decompose.boundaries import Options
from analyzer.decompose.coupling import DEFAULT_WEIGHTS
from analyzer.errors import AnalyzerError

KEYS = {
    "granularity",
    "services",
    "seed",
    "together",
    "apart",
    "extracted",
    "weights",
    "boundaries",
    "allow",
    "roles",
    "outbox",  # figkit check's (analyzer/outbox.py)
}


def find_config(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """figkit.toml (whole file) or pyproject.toml's [tool.figkit], in the project root or above it."""
    for folder in (root, *root.parents)[:3]:
        for name, pick in (
            ("figkit.toml", lambda d: d),
            ("pyproject.toml", lambda d: d.get("tool", {}).get("figkit")),
        ):
            path = folder / name
            if path.is_file():
                try:
                    data = pick(tomllib.loads(path.read_text()))
                except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
                    raise AnalyzerError(f"{path} cannot be read as TOML: {exc}") from None
                if data:
                    return path, data
    return None


def load_settings(config: Path | None, root: Path | None) -> tuple[dict[str, Any], str]:
    """The figkit settings and where they came from: --config if given (a figkit.toml, or a
    pyproject.toml's [tool.figkit]), else the project's own, else none."""
    if config is not None:
        try:
            data = tomllib.loads(config.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AnalyzerError(f"cannot read {config} as TOML: {exc}") from None
        return (
            data.get("tool", {}).get("figkit", {}) if config.name == "pyproject.toml" else data
        ), str(config)
    found = find_config(root) if root is not None and root.is_dir() else None
    if found:
        return found[1], str(found[0])
    return {}, f"{root} (no figkit.toml or [tool.figkit])"


def options_from(data: dict[str, Any], where: str = "the figkit config") -> Options:
    unknown = set(data) - KEYS
    if unknown:
        raise AnalyzerError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}"
        )
    options = Options()
    if "granularity" in data:
        if data["granularity"] not in ("app", "module", "model"):
            raise AnalyzerError(
                f"{where}: granularity must be app, module or model, not {data['granularity']!r}"
            )
        options = replace(options, granularity=data["granularity"])
    for key in ("services", "seed"):
        if key in data:
            if (
                not isinstance(data[key], int)
                or isinstance(data[key], bool)
                or data[key] < (1 if key == "services" else 0)
            ):
                raise AnalyzerError(
                    f"{where}: {key} must be a whole number{' >= 1' if key == 'services' else ''}"
                )
            options = replace(options, **{key: data[key]})
    if "roles" in data:
        if not isinstance(data["roles"], bool):
            raise AnalyzerError(f"{where}: roles must be true or false")
        options = replace(options, roles=data["roles"])
    if "together" in data:
        groups = data["together"]
        if not isinstance(groups, list) or not all(
            isinstance(g, list) and len(g) >= 2 and all(isinstance(x, str) for x in g)
            for g in groups
        ):
            raise AnalyzerError(
                f'{where}: together is a list of lists of names, e.g. [["orders", "payments"]]'
            )
        options = replace(options, together=tuple(tuple(g) for g in groups))
    if "apart" in data:
        pairs = data["apart"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in pairs
        ):
            raise AnalyzerError(f'{where}: apart is a list of pairs, e.g. [["catalog", "orders"]]')
        options = replace(options, apart=tuple((a, b) for a, b in pairs))
    if "extracted" in data:
        ext = data["extracted"]
        if not isinstance(ext, dict) or not all(
            isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in ext.values()
        ):
            raise AnalyzerError(
                f'{where}: [extracted] maps a service name to its apps, e.g. catalog = ["catalog"]'
            )
        options = replace(options, extracted={k: tuple(v) for k, v in ext.items()})
    if "weights" in data:
        weights = data["weights"]
        if not isinstance(weights, dict):
            raise AnalyzerError(f"{where}: [weights] maps edge kinds to numbers")
        for kind, value in weights.items():
            if kind not in DEFAULT_WEIGHTS:
                raise AnalyzerError(
                    f"{where}: weights.{kind} is no edge kind ({', '.join(sorted(DEFAULT_WEIGHTS))})"
                )
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise AnalyzerError(f"{where}: weights.{kind} must be a number >= 0")
        options = replace(options, weights={k: float(v) for k, v in weights.items()})
    return options
