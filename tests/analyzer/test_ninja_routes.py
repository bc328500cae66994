"""django-ninja APIs as routes: operations, mounted routers and the API's own pages, as Django resolves them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from analyzer.pipeline import analyze

FIXTURE = Path(__file__).parent / "fixtures" / "ninjashop"
FIGKIT = Path(sys.executable).with_name("figkit")


def routes(root: Path) -> dict[tuple[str, tuple[str, ...]], dict]:
    doc = analyze(root, jobs=1).to_json()
    return {(r["pattern"], tuple(r.get("methods") or ())): r for r in doc["routes"]}, doc


def test_operations_and_mounted_routers_become_routes():
    found, _ = routes(FIXTURE)
    expected = {
        ("api/v1/health", ("GET",)): "shop.api.health",
        ("api/v1/items/", ("GET", "POST")): "items.api.list_items",
        ("api/v1/items/<int:item_id>", ("GET",)): "items.api.get_item",
        ("api/v1/orders/<order_id>", ("PUT", "PATCH")): "orders.api.update_order",
    }
    for key, view in expected.items():
        assert found[key]["view"] == view, key
    assert found[("api/v1/items/<int:item_id>", ("GET",))]["app"] == "items"
    # one Django pattern serves both operations: one route, each method to its function
    assert found[("api/v1/items/", ("GET", "POST"))]["actions"] == {
        "GET": "items.api.list_items",
        "POST": "items.api.create_item",
    }
    assert {
        ("api/v1/", ("GET",)),
        ("api/v1/docs", ("GET",)),
        ("api/v1/openapi.json", ("GET",)),
    } <= set(found)


def test_routes_agree_with_djangos_resolver(tmp_path):
    result = subprocess.run([str(FIGKIT), "analyze", str(FIXTURE), "--out", str(tmp_path), "--verify", "--format", "json"],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "verify.json").read_text())
    assert scores["routes"]["recall"] == 1.0 and scores["routes"]["precision"] == 1.0


def test_a_router_that_cannot_be_followed_is_a_warning(tmp_path):
    root = tmp_path / "ninjashop"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    api = root / "shop" / "api.py"
    api.write_text(api.read_text().replace('api.add_router("/orders/", orders_router)',
                                           'api.add_router("/orders/", orders_router)\napi.add_router("/ghost", "nowhere.api.router")'))  # fmt: skip
    found, doc = routes(root)
    assert ("api/v1/orders/<order_id>", ("PUT", "PATCH")) in found
    assert any(
        "add_router of nowhere.api.router cannot be followed" in w["message"]
        for w in doc["warnings"]
    )
