"""figkit's analyzer. In a notebook: `import analyzer; a = analyzer.load("figkit-report")`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.explore import Exploration


def load(source: Any, **options: Any) -> Exploration:
    """An analysis as Python objects (graph, DataFrames, what-if, plots); see analyzer/explore.py."""
    from analyzer.explore import load as _load  # pandas loads only when asked for

    return _load(source, **options)
