"""The route fixtures against Django's own resolver: `figkit analyze --verify` loads each one
with DRF, drf-nested-routers and drf-extensions and compares every pattern, trailing slash
included. Skipped where those packages are not installed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIGKIT = Path(sys.executable).with_name("figkit")

# each fixture Django can load, with the packages it needs (the external includes fixture
# names a package that is not installed, so it is not here)
LOADABLE = {
    "routes_drf_router_options": ("rest_framework",),
    "routes_drf_nested": ("rest_framework", "rest_framework_nested", "rest_framework_extensions"),
    "routes_generic_viewset": ("rest_framework",),
    "routes_format_suffix": ("rest_framework",),
    "routes_ready_extension": ("rest_framework",),
    "routes_one_per_url": ("rest_framework",),
    "routes_i18n_patterns": (),
    "routes_settings_conditions": ("rest_framework",),
    "routes_view_registry": (),
}


@pytest.mark.parametrize("fixture", sorted(LOADABLE))
def test_route_fixture_agrees_with_djangos_resolver(fixture, tmp_path):
    for package in LOADABLE[fixture]:  # dev dependencies: missing is a broken install, not a skip
        importlib.import_module(package)
    result = subprocess.run(
        [str(FIGKIT), "analyze", str(FIXTURES / fixture), "--out", str(tmp_path), "--verify",
         "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "verify.json").read_text())
    assert (scores["routes"]["recall"], scores["routes"]["precision"]) == (1.0, 1.0), scores[
        "routes"
    ]
