"""Each fact kind and each way of naming a model, pinned on the tinyshop fixture project."""

from __future__ import annotations

from analyzer.contract import validate


def test_the_document_matches_the_schema(tinyshop):
    validate(tinyshop.doc)


def test_settings_built_from_names_plus_and_append_give_every_app(tinyshop):
    internal = {a["label"] for a in tinyshop.doc["apps"] if not a["external"]}
    external = {a["label"] for a in tinyshop.doc["apps"] if a["external"]}
    assert internal == {"people", "billing", "orders", "api"}
    assert {"auth", "contenttypes", "rest_framework"} <= external
    assert tinyshop.doc["project"]["settings_module"] == "tinyshop.settings"
    assert tinyshop.doc["project"]["urlconf"] == "tinyshop.urls"
    assert tinyshop.doc["project"]["auth_user_model"] == "people.Member"


def test_meta_db_table_abstract_proxy_and_multi_table_inheritance(tinyshop):
    assert tinyshop.model("billing.Invoice")["table"] == "legacy_invoice"
    assert tinyshop.model("billing.Stamped")["abstract"] is True
    proxy = tinyshop.model("billing.PaidInvoice")
    assert proxy["proxy"] is True and proxy["table"] == "legacy_invoice"
    assert proxy["concrete"] == "billing.Invoice"
    assert tinyshop.model("billing.CreditNote")["parents"] == ["billing.Invoice"]
    assert ("billing.CreditNote", "billing.Invoice") in tinyshop.edges("o2o")


def test_models_reexported_from_a_package_keep_their_file_and_default_table(tinyshop):
    member = tinyshop.model("people.Member")
    assert member["file"] == "people/models/member.py"
    assert member["line"] == tinyshop.line("people/models/member.py", "class Member")
    assert member["table"] == "people_member"


def test_every_relation_reference_form_resolves(tinyshop):
    fk = tinyshop.edges("fk")
    line = tinyshop.line
    # "app.Model" string
    assert tinyshop.evidence("fk", "billing.Invoice", "orders.Order") == {
        ("billing/models.py", line("billing/models.py", '"orders.Order"'))
    }
    # settings.AUTH_USER_MODEL on an abstract base lands on the concrete child
    assert ("billing.Invoice", "people.Member") in fk
    assert ("billing.Stamped", "people.Member") not in fk
    # class imported through a re-exporting package, and get_user_model()
    assert tinyshop.evidence("fk", "orders.Order", "people.Member") == {
        ("orders/models.py", line("orders/models.py", "buyer =")),
        ("orders/models.py", line("orders/models.py", "approved_by =")),
    }
    # "self"
    assert ("people.Profile", "people.Profile") in fk
    assert ("people.Profile", "people.Member") in tinyshop.edges("o2o")
    assert ("orders.Order", "orders.Tag") in tinyshop.edges("m2m")


def test_module_alias_resolves_orm_writes(tinyshop):
    # import billing.models as bm; bm.Invoice.objects.create(...)
    assert tinyshop.evidence("orm_write", "billing.services", "billing.Invoice") == {
        ("billing/services.py", tinyshop.line("billing/services.py", "bm.Invoice.objects.create"))
    }


def test_instances_typed_by_get_object_or_404_and_method_calls_are_writes(tinyshop):
    views = tinyshop.evidence("orm_write", "orders.views", "orders.Order")
    assert ("orders/views.py", tinyshop.line("orders/views.py", "order.delete()")) in views
    reads = tinyshop.evidence("orm_read", "orders.views", "orders.Order")
    assert ("orders/views.py", tinyshop.line("orders/views.py", "= get_object_or_404(")) in reads
    # self.save() inside a model method writes its own model
    assert ("orders.models", "orders.Order") in tinyshop.edges("orm_write")


def test_apps_get_model_is_an_orm_root(tinyshop):
    assert tinyshop.evidence("orm_read", "orders.services", "billing.CreditNote") == {
        ("orders/services.py", tinyshop.line("orders/services.py", "CreditNote.objects.filter"))
    }


def test_lookups_join_across_apps_and_through_inherited_relations(tinyshop):
    joins = tinyshop.edges("join")
    city = ("orders/services.py", tinyshop.line("orders/services.py", "buyer__profile__city"))
    assert city in tinyshop.evidence("join", "orders.Order", "people.Member")
    assert city in tinyshop.evidence("join", "people.Member", "people.Profile")
    # CreditNote inherits Invoice.order through multi-table inheritance
    assert ("billing.CreditNote", "orders.Order") in joins
    # create(order=..., created_by=...) sets columns: no join
    assert all(
        e["file"] != "billing/services.py" for edge in joins.values() for e in edge["evidence"]
    )


def test_signal_receivers_point_at_their_sender_model_or_signal_module(tinyshop):
    assert tinyshop.evidence("signal", "orders.receivers", "billing.Invoice") == {
        ("orders/receivers.py", tinyshop.line("orders/receivers.py", "def invoice_saved"))
    }
    assert tinyshop.evidence("signal", "orders.receivers", "orders.signals") == {
        ("orders/receivers.py", tinyshop.line("orders/receivers.py", "order_placed.connect"))
    }


def test_atomic_decorator_follows_calls_into_other_apps(tinyshop):
    decorated = ("orders/services.py", tinyshop.line("orders/services.py", "def place_order"))
    assert decorated in tinyshop.evidence("atomic", "orders.services", "billing.Invoice")
    assert decorated in tinyshop.evidence("atomic", "orders.services", "orders.Order")


def test_a_function_returning_atomic_counts_as_atomic_and_instance_methods_are_followed(tinyshop):
    block = ("orders/services.py", tinyshop.line("orders/services.py", "with traced_atomic()"))
    assert block in tinyshop.evidence("atomic", "orders.services", "orders.Order")


def test_raw_sql_tables_map_to_models_directly_and_through_a_helper(tinyshop):
    direct = {t for (s, t) in tinyshop.edges("raw_sql") if s == "billing.services"}
    assert direct == {"billing.Invoice", "orders.Order", "people.Profile"}
    via_helper = ("orders/services.py", tinyshop.line("orders/services.py", "return run_report("))
    assert tinyshop.evidence("raw_sql", "orders.services", "billing.Invoice") == {via_helper}


def test_celery_delay_is_a_task_edge(tinyshop):
    assert tinyshop.evidence("task", "orders.services", "orders.tasks") == {
        ("orders/services.py", tinyshop.line("orders/services.py", "send_receipt.delay"))
    }


def test_routes_through_include_namespaces_regex_and_class_views(tinyshop):
    routes = {(r["pattern"], r["view"]): r for r in tinyshop.doc["routes"]}
    listing = routes[("orders/", "orders.views.order_list")]
    assert listing["name"] == "orders:list" and listing["app"] == "orders"
    detail = routes[("orders/<int:pk>/", "orders.views.OrderDetail")]
    assert detail["methods"] == ["GET", "POST"]
    assert routes[("orders/<int:number>/cancel/", "orders.views.cancel")]["methods"] == ["POST"]
    assert ("legacy/(?P<number>\\w+)/", "orders.views.legacy_order") in routes


def test_drf_router_viewset_and_action_routes(tinyshop):
    drf = {r["pattern"]: r for r in tinyshop.doc["routes"] if r["app"] == "api"}
    listing = drf["api/invoices/"]
    assert listing["view"] == "api.views.InvoiceViewSet"
    assert listing["actions"] == {"GET": "list", "POST": "create"}
    detail = drf["api/invoices/<pk>/"]
    assert detail["methods"] == ["GET", "PUT", "PATCH", "DELETE"]
    assert detail["actions"]["DELETE"] == "destroy"
    action = drf["api/invoices/<pk>/send-again/"]
    assert action["actions"] == {"POST": "resend"}
    assert action["name"] == "invoice-resend"
    root = drf["api/"]
    assert (root["view"], root["name"]) == ("rest_framework.routers.APIRootView", "api-root")
    assert all(r.get("format_suffix") for r in drf.values())  # DefaultRouter adds them
    assert len(drf) == 4  # one route per URL: the API root, list, detail and the action


def test_migrations_and_tests_are_left_out_by_default(tinyshop):
    modules = {m for a in tinyshop.doc["apps"] for m in a["modules"]}
    assert not any("migrations" in m or "tests" in m for m in modules)
    assert "orders.services" in modules


def test_every_evidence_path_is_relative_to_the_analysed_root(tinyshop):
    for edge in tinyshop.doc["edges"]:
        for evidence in edge["evidence"]:
            assert (tinyshop.root / evidence["file"]).is_file(), evidence
            assert evidence["line"] >= 1


def test_reusable_app_forms_re_exported_user_model_and_swappable_names(tinyshop):
    line = tinyshop.line
    assert tinyshop.evidence("fk", "billing.Refund", "people.Member") == {
        ("billing/models.py", line("billing/models.py", "approved_by ="))
    }
    assert (
        "billing/models.py",
        line("billing/models.py", "swapper.get_model_name"),
    ) in tinyshop.evidence("fk", "billing.Refund", "orders.Order")


def test_include_of_an_imported_urls_module(tinyshop):
    routes = {(r["pattern"], r["name"]) for r in tinyshop.doc["routes"]}
    assert ("mirror/<int:number>/cancel/", "mirror:cancel") in routes


def test_views_registered_to_a_model_become_routes_where_get_model_urls_includes_them(tinyshop):
    routes = {(r["pattern"], r["view"]): r for r in tinyshop.doc["routes"]}
    history = routes[("orders/<int:pk>/history/", "orders.views.OrderHistory")]
    assert history["name"] == "orders:order_history" and history["methods"] == ["GET"]
