"""Runtime coupling: the recorder middleware in the real monolith, and its log read back as edges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.middleware import tables_of
from analyzer.pipeline import analyze

REPO = Path(__file__).resolve().parents[2]
FIGKIT = Path(sys.executable).with_name("figkit")


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        (
            'SELECT "a"."id" FROM "catalog_product" INNER JOIN "catalog_brand" ON x',
            {"catalog_product": "r", "catalog_brand": "r"},
        ),
        (
            'INSERT INTO "orders_order" ("n") SELECT n FROM "cart_cart"',
            {"orders_order": "w", "cart_cart": "r"},
        ),
        ('UPDATE "inventory_stockitem" SET q = 1', {"inventory_stockitem": "w"}),
        ("DELETE FROM `reviews_review` WHERE id = 1", {"reviews_review": "w"}),
        ("SAVEPOINT s1", {}),
    ],
)
def test_tables_of_a_statement(sql, tables):
    assert tables_of(sql) == tables


@pytest.mark.django_db
def test_the_recorder_logs_which_route_touched_which_tables(client, settings, tmp_path):
    log = tmp_path / "runtime.jsonl"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "analyzer.middleware.CouplingRecorder"]
    settings.FIGKIT_RUNTIME_LOG = str(log)
    assert client.get("/api/products/").status_code == 200
    assert client.get("/api/categories/").status_code == 200
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    products = next(x for x in lines if x["route"] == "api/products/")
    assert products["view"] == "legacy_monolith.catalog.api.product_list"
    assert products["tables"].get("shop_product") == "r"  # catalog.Product keeps a legacy db_table

    document = analyze(REPO / "legacy_monolith", jobs=1, runtime=log).to_json()
    runtime = {(e["source"], e["target"]): e for e in document["edges"] if e["kind"] == "runtime"}
    edge = runtime[("legacy_monolith.catalog.api", "catalog.Product")]
    assert edge["weight"] >= 1 and edge["evidence"][0]["file"] == "runtime.jsonl"


def test_a_broken_line_is_a_warning_and_a_missing_log_an_error(tmp_path):
    log = tmp_path / "runtime.jsonl"
    log.write_text(
        '{"view": "legacy_monolith.catalog.api.product_list", "tables": {"shop_product": "r"}}\nnot json\n'
    )
    out = tmp_path / "out"
    result = subprocess.run([str(FIGKIT), "analyze", str(REPO / "legacy_monolith"), "--out", str(out), "--runtime", str(log)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "runtime.jsonl:2: not a recorder line" in result.stderr
    missing = subprocess.run([str(FIGKIT), "analyze", str(REPO / "legacy_monolith"), "--out", str(tmp_path / "o2"),
                              "--runtime", str(tmp_path / "nope.jsonl")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert missing.returncode == 2 and "nope.jsonl does not exist" in missing.stderr
