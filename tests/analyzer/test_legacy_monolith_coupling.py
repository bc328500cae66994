"""The coupling built into legacy_monolith (docs/legacy_monolith.md), found by the analyzer."""

from __future__ import annotations

import pytest


def test_apps_models_and_routes_are_all_found(monolith):
    apps = {a["label"] for a in monolith.doc["apps"] if not a["external"]}
    assert apps == {"core", "accounts", "catalog", "inventory", "cart", "orders", "payments",
                    "shipping", "promotions", "reviews", "notifications", "reporting"}  # fmt: skip
    concrete = [
        m
        for m in monolith.doc["models"]
        if not m["external"] and not m["abstract"] and not m["proxy"]
    ]
    assert len(concrete) == 40
    assert monolith.model("orders.ArchivedOrder")["proxy"] is True
    assert monolith.model("catalog.DigitalProduct")["parents"] == ["catalog.Product"]
    assert monolith.model("catalog.Product")["table"] == "shop_product"
    assert monolith.model("payments.Invoice")["table"] == "billing_invoice"
    own = [r for r in monolith.doc["routes"] if not r.get("external")]
    assert len(own) == 53  # with the probes, /healthz and /readyz
    # Django's admin is the admin app's: one catch-all route under its prefix; so is the data
    # seam's include, named by its installed app (extracted.seam, label seam), not its package
    assert [(r["pattern"], r["app"]) for r in monolith.doc["routes"] if r.get("external")] == [
        ("admin/*", "admin"), ("seam/*", "seam")
    ]
    assert (
        sum(r["pattern"].startswith("api/") for r in monolith.doc["routes"]) == 20
    )  # as Django resolves them


@pytest.mark.parametrize(
    ("kind", "source", "target"),
    [
        ("fk", "orders.Order", "accounts.Address"),  # class reference
        ("fk", "orders.Order", "promotions.Coupon"),  # "app.Model" string
        ("fk", "inventory.StockMovement", "orders.Order"),
        ("fk", "catalog.Category", "catalog.Category"),  # "self"
        ("fk", "orders.Order", "accounts.User"),  # settings.AUTH_USER_MODEL
        ("fk", "reviews.Review", "accounts.User"),  # get_user_model()
        ("o2o", "payments.Invoice", "orders.Order"),
        ("o2o", "promotions.CouponRedemption", "orders.Order"),
        ("m2m", "shipping.Shipment", "orders.OrderLine"),
        ("m2m", "promotions.Promotion", "catalog.Category"),
        ("m2m", "cart.Wishlist", "catalog.Product"),
    ],
)
def test_foreign_keys_in_every_reference_form(monolith, kind, source, target):
    assert (source, target) in monolith.edges(kind)


def test_place_order_writes_five_apps_in_one_transaction(monolith):
    line = monolith.line("orders/checkout.py", "with transaction.atomic()")
    block = ("orders/checkout.py", line)
    written = {
        target for (source, target), edge in monolith.edges("atomic").items()
        if source == "legacy_monolith.orders.checkout"
        and block in {(e["file"], e["line"]) for e in edge["evidence"]}
    }  # fmt: skip
    apps = {label.split(".")[0] for label in written}
    assert {"orders", "inventory", "payments", "promotions", "cart"} <= apps


def test_signals_couple_apps_through_senders_and_custom_signals(monolith):
    signal_apps = {
        (e["source_app"], e["target_app"]) for e in monolith.doc["edges"] if e["kind"] == "signal"
    }
    assert ("catalog", "reviews") in signal_apps  # post_save(Review) -> catalog rating
    assert ("accounts", "accounts") in signal_apps  # post_save(User) -> profile
    assert ("notifications", "orders") in signal_apps  # order_placed -> mail
    assert ("notifications", "inventory") in signal_apps  # low_stock -> mail
    assert ("orders", "payments") in signal_apps  # payment_captured -> order paid


def test_raw_sql_reports_reach_tables_of_many_apps(monolith):
    targets = {
        t for (s, t) in monolith.edges("raw_sql") if s == "legacy_monolith.reporting.queries"
    }
    assert {t.split(".")[0] for t in targets} >= {
        "orders",
        "catalog",
        "accounts",
        "inventory",
        "promotions",
        "reviews",
    }


def test_cross_app_lookups_become_joins(monolith):
    joins = monolith.edges("join")
    assert (
        "orders.OrderLine",
        "catalog.ProductVariant",
    ) in joins  # select_related("variant__product")
    assert ("catalog.ProductVariant", "catalog.Product") in joins


def test_celery_task_calls_and_the_shared_utils_module(monolith):
    assert any(t == "legacy_monolith.notifications.tasks" for (_, t) in monolith.edges("task"))
    importers = {s for (s, t) in monolith.edges("import") if t == "legacy_monolith.core.utils"}
    apps = {s.split(".")[1] for s in importers}
    assert len(apps) >= 8
