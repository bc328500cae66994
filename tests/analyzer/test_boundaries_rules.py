"""The boundary rules an architect would apply, each on a small analysis built by hand:
shared kernel, hub entities, route-serving packages, naming, route-less services, what stays."""

from __future__ import annotations

import pytest

from analyzer.contract import validate
from analyzer.decompose import Options, decompose

from .boundaries_builder import Project


def services(out: dict) -> dict[str, dict]:
    return {s["name"]: s for s in out["services"]}


def service_of(out: dict, app: str) -> dict:
    return next(s for s in out["services"] if app in s["apps"])


def two_domains_and_a_kernel() -> Project:
    """orders and catalog, each tight inside; `common` (base classes) imported by every app."""
    p = Project()
    p.cluster("orders", ("Order", "Line"))
    p.cluster("catalog", ("Product", "Category"))
    p.cluster("billing", ("Invoice",))
    p.app("common", modules=("base", "utils"))
    for app in ("orders", "catalog", "billing"):
        for module in ("views", "services"):
            p.edge(f"proj.{app}.{module}", "proj.common.base", "import", 3)
            p.edge(f"proj.{app}.{module}", "proj.common.utils", "import", 3)
    p.edge("billing.Invoice", "orders.Order", "fk", 1)
    p.edge("proj.billing.services", "orders.Order", "orm_read", 4)
    return p


def test_a_framework_package_used_by_every_app_is_a_library_not_a_service():
    out = decompose(two_domains_and_a_kernel().doc())
    kernel = [s for s in out["services"] if s.get("kind") == "shared_kernel"]
    assert len(kernel) == 1 and kernel[0]["apps"] == ["common"]
    assert "library" in kernel[0]["note"]
    assert kernel[0]["name"] not in [step["service"] for step in out["plan"]]
    assert out["metrics"]["suggested"]["services"] == len(out["services"]) - 1
    validate(out)


def test_without_roles_the_kernel_is_just_one_more_service():
    out = decompose(two_domains_and_a_kernel().doc(), Options(roles=False))
    assert not any(s.get("kind") == "shared_kernel" for s in out["services"])


def test_a_kernel_named_by_the_user_is_left_to_the_user():
    out = decompose(two_domains_and_a_kernel().doc(), Options(together=(("common", "orders"),)))
    assert not any(s.get("kind") == "shared_kernel" for s in out["services"])
    assert {"common", "orders"} <= set(service_of(out, "orders")["apps"])


def hub_project() -> Project:
    """Two unrelated domains (stock, blog) whose models all point at users.User, and nothing else."""
    p = Project()
    p.cluster("users", ("User",), routes=3)
    p.cluster("stock", ("Item", "Shelf"))
    p.cluster("blog", ("Post", "Comment"))
    for model in ("stock.Item", "stock.Shelf", "blog.Post", "blog.Comment"):
        p.edge(model, "users.User", "fk", 2)
    for module in ("proj.stock.views", "proj.blog.views"):
        p.edge(module, "users.User", "orm_read", 6)
        p.edge(module, "users.User", "join", 4)
    for n in range(3):  # more apps hold a user: the hub is referenced from many apps
        p.cluster(f"extra{n}", (f"Thing{n}",), routes=1)
        p.edge(f"extra{n}.Thing{n}", "users.User", "fk", 1)
    return p


def test_a_hub_user_model_does_not_glue_two_unrelated_apps():
    out = decompose(hub_project().doc())
    assert service_of(out, "stock")["name"] != service_of(out, "blog")["name"]
    users = service_of(out, "users")
    assert "referenced by foreign keys from" in users.get("note", "")


def test_an_edge_into_a_hub_pulls_with_a_share_that_shrinks_with_the_apps_pointing_at_it():
    """Degree normalisation: users.User is pointed at from 5 apps, so each edge into it counts
    1/sqrt(5) (the square root: the strongest hubs are set apart before clustering anyway)."""
    from analyzer.decompose.boundaries import _clustering_pairs
    from analyzer.decompose.coupling import from_analysis
    from analyzer.decompose.roles import reference_counts

    coupling = from_analysis(hub_project().doc())
    degree = reference_counts(coupling)
    assert degree["users.User"] == 5
    pairs = {(a, b): w for a, b, w in _clustering_pairs(coupling, set(coupling.elements), degree)}
    edge = next(
        e for e in coupling.edges if (e["source"], e["target"]) == ("blog.Post", "users.User")
    )
    assert pairs[("blog.Post", "users.User")] == pytest.approx(coupling.edge_weight(edge) / 5**0.5)
    inside = next(
        e for e in coupling.edges if e["target"] == "blog.Post" and e["kind"] == "orm_read"
    )
    assert pairs[("blog.Post", "proj.blog.views")] == coupling.edge_weight(inside)


def test_a_package_with_routes_that_is_no_app_is_assigned_by_its_coupling():
    p = Project()
    p.cluster("accounts", ("Profile",))
    p.cluster("shop", ("Cart",))
    for module in ("proj.auth.views", "proj.auth.tokens"):  # not in INSTALLED_APPS
        p.edge(module, "accounts.Profile", "orm_write", 5)
    p.edge("proj.auth.views", "proj.auth.tokens", "import", 2)
    p.route("auth/login/", "proj.auth.views.login", None)
    p.route("auth/register/", "proj.auth.views.register", None)
    out = decompose(p.doc())
    holder = next(s for s in out["services"] if "auth/login/" in s["routes"])
    assert "auth" in holder["apps"] and "accounts" in holder["apps"]
    assert "proj.auth.views" in holder["modules"]


def test_a_service_is_not_named_after_an_app_whose_routes_are_all_off():
    p = Project()
    p.cluster("debugpanel", ("Probe", "Trace", "Span"), routes=4)
    for route in p.routes:
        route["conditional"] = "settings.DEBUG"
    p.cluster("payments", ("Payment",), routes=2)
    p.edge("proj.debugpanel.services", "payments.Payment", "orm_write", 9)
    p.edge("proj.payments.services", "debugpanel.Probe", "orm_write", 9)
    p.edge("proj.payments.views", "debugpanel.Trace", "join", 9)
    out = decompose(p.doc(), Options(services=1))
    assert [s["name"] for s in out["services"]] == ["payments"]


def routeless_project() -> Project:
    p = Project()
    p.cluster("orders", ("Order",), routes=3)
    p.cluster("catalog", ("Product",), routes=3)
    p.app("pricing", modules=("rules", "engine"))  # code only: no route, no table
    p.edge("proj.pricing.rules", "proj.pricing.engine", "import", 1)
    p.edge("proj.pricing.engine", "catalog.Product", "orm_read", 1)
    p.app("ledger", modules=("tasks",), models=("Entry",))  # a worker: a table, no route
    p.edge("proj.ledger.tasks", "ledger.Entry", "orm_write", 4)
    p.edge("proj.orders.services", "proj.ledger.tasks", "task", 1)
    return p


def test_a_routeless_service_is_merged_or_kept_with_a_reason():
    out = decompose(routeless_project().doc())
    by_name = services(out)
    assert "pricing" not in by_name, "no route, no table: merged into what it is coupled with"
    assert "pricing" in service_of(out, "catalog")["apps"]
    ledger = service_of(out, "ledger")
    if ledger["name"] == "ledger":  # kept on its own: it must say why
        assert ledger["no_routes"] is True and "owns 1 table" in ledger["note"]
    validate(out)


def test_what_stays_in_the_monolith_is_what_holds_the_most():
    """A read-only reports app is entangled with everything but owns nothing; it must not stay."""
    p = Project()
    p.cluster("sales", tuple(f"S{i}" for i in range(6)), routes=12)
    p.cluster("crm", ("Lead",), routes=2)
    p.cluster("reports", ("Snapshot",), routes=1)
    for target in [f"sales.S{i}" for i in range(6)] + ["crm.Lead"]:
        p.edge("proj.reports.views", target, "orm_read", 30)
        p.edge("proj.reports.services", target, "join", 30)
    p.edge("crm.Lead", "sales.S0", "fk", 1)
    out = decompose(p.doc(), Options(services=3))
    plan = out["plan"]
    by_entanglement = max(plan, key=lambda step: step["entanglement"])
    assert "reports" in services(out)[by_entanglement["service"]]["apps"], "the fixture's point"
    last = plan[-1]
    assert last["stays_in_monolith"] is True
    assert "sales" in services(out)[last["service"]]["apps"]
    assert [s["entanglement"] for s in plan[:-1]] == sorted(s["entanglement"] for s in plan[:-1])


def test_when_per_app_wins_most_metrics_the_note_says_so_first():
    out = decompose(two_domains_and_a_kernel().doc())
    s, b = out["metrics"]["suggested"], out["metrics"]["per_app"]
    lost = sum(
        (s[k] < b[k]) if k in ("modularity", "sm") else (s[k] > b[k])
        for k in ("modularity", "sm", "icp", "ifn", "ned", "bcp")
    )
    note = out["metrics"]["note"]
    if lost > 3:
        assert note.startswith("Where one service per app does better") and "Trade-off" in note
    else:
        assert not note.startswith("Where one service per app does better")


def identity_project() -> dict:
    """users holds AUTH_USER_MODEL; tokens only stores users' tokens; shop and blog use users."""
    p = hub_project()
    p.cluster("tokens", ("Token",), routes=1)
    p.edge("tokens.Token", "users.User", "fk", 3)
    p.edge("proj.tokens.services", "users.User", "orm_write", 6)
    doc = p.doc()
    doc["project"]["auth_user_model"] = "users.User"
    return doc


def test_the_user_models_app_is_an_identity_service_that_its_satellites_join():
    out = decompose(identity_project())
    identity = service_of(out, "users")
    assert identity["name"] == "users"
    assert "AUTH_USER_MODEL" in identity["note"]
    assert set(identity["apps"]) == {"users", "tokens"}, "tokens' strongest tie is users"
    assert "stock" not in identity["apps"] and "blog" not in identity["apps"]


def test_sibling_apps_of_one_sub_package_start_together_and_name_their_service():
    """proj.integrations.slack/.email/.sms share no coupling but one package: one service."""
    p = Project()
    p.cluster("monitor", ("Check", "Ping"), routes=5)
    for channel in ("slack", "email", "sms"):
        p.app(channel, modules=("transport", "views"), name=f"proj.integrations.{channel}")
        p.edge(f"proj.integrations.{channel}.views", f"proj.integrations.{channel}.transport")
        p.edge(f"proj.integrations.{channel}.transport", "monitor.Check", "orm_read", 1)
        p.route(f"integrations/{channel}/", f"proj.integrations.{channel}.views.setup", channel)
    out = decompose(p.doc())
    holder = service_of(out, "slack")
    assert {"slack", "email", "sms"} <= set(holder["apps"])
    assert holder["name"] == "integrations"
    apart = decompose(p.doc(), Options(roles=False))
    assert service_of(apart, "slack")["name"] != service_of(apart, "sms")["name"]


def test_the_losing_note_names_each_lost_metric_and_what_the_suggestion_buys():
    from analyzer.decompose.metrics import losing_note

    per_app = {"modularity": 0.5, "sm": 0.3, "icp": 0.2, "ifn": 1.0, "ned": 0.1, "bcp": 1.0,
               "cut": {"foreign_keys": 10, "writes": 5}}  # fmt: skip
    worse = {**per_app, "sm": 0.1, "ifn": 3.0, "ned": 0.9, "bcp": 2.0, "cut": {"foreign_keys": 4}}
    note = losing_note(worse, per_app)
    assert note.startswith("Where one service per app does better: ") and note.count(";") >= 3
    assert "SM (" in note and "NED (" in note and "ICP" not in note
    assert "it cuts 4 places where per-app cuts 15" in note
    better = {**per_app, "modularity": 0.6, "icp": 0.1, "ifn": 0.5, "sm": 0.1}
    assert losing_note(better, per_app) == ""


def test_a_family_split_is_offered_against_per_app_with_the_same_roles():
    p = Project()
    p.cluster("monitor", ("Check", "Ping"), routes=5)
    for channel in ("slack", "email", "sms"):
        p.app(channel, modules=("transport", "views"), name=f"proj.integrations.{channel}")
        p.edge(f"proj.integrations.{channel}.views", f"proj.integrations.{channel}.transport")
        p.route(f"integrations/{channel}/", f"proj.integrations.{channel}.views.setup", channel)
    out = decompose(p.doc())
    assert out["metrics"]["offered"] is True, out["metrics"]["note"]


def work_items_around_a_project_hub() -> Project:
    """Three kinds of work item (stories, tasks, issues) that point at each other, all held by
    a project and a user that many apps point at, beside two unrelated domains."""
    p = Project()
    p.cluster("users", ("User",), routes=3)
    p.cluster("projects", ("Project", "Membership"), routes=3)
    p.cluster("stories", ("Story",))
    p.cluster("tasks", ("Task",))
    p.cluster("issues", ("Issue",))
    p.cluster("wiki", ("Page",))
    p.cluster("billing", ("Invoice", "Plan"))
    for kind in ("stories.Story", "tasks.Task", "issues.Issue", "wiki.Page", "billing.Invoice"):
        p.edge(kind, "projects.Project", "fk", 2)
        p.edge(kind, "users.User", "fk", 1)
    p.edge("projects.Membership", "users.User", "fk", 1)
    p.edge("tasks.Task", "stories.Story", "fk", 1)  # a task belongs to a story
    p.edge("issues.Issue", "stories.Story", "fk", 1)  # an issue can be promoted to a story
    for a, b in (
        ("tasks", "stories"),
        ("issues", "stories"),
        ("stories", "tasks"),
        ("issues", "tasks"),
    ):
        # boards and filters list one kind of item with another; moving one writes the other
        p.edge(f"proj.{a}.views", f"{b}.{b[:-1].title()}", "join", 5)
        p.edge(f"proj.{a}.services", f"{b}.{b[:-1].title()}", "orm_write", 5)
        p.edge(f"proj.{a}.services", f"{b}.{b[:-1].title()}", "atomic", 2)
    for app in ("stories", "tasks", "issues", "wiki", "billing"):
        p.edge(f"proj.{app}.views", "projects.Project", "orm_read", 6)
    return p


def test_kinds_of_work_item_that_point_at_each_other_share_a_service_despite_the_hub():
    out = decompose(work_items_around_a_project_hub().doc())
    work = service_of(out, "stories")
    assert {"stories", "tasks", "issues"} <= set(work["apps"])
    assert not {"wiki", "billing", "projects"} & set(work["apps"])


def test_a_mixin_package_used_by_two_apps_is_a_library_even_when_few_use_it():
    """Abstract mixins (no table, no route) used by two of five apps: shared code, not a service
    and not glue between the two apps that use it."""
    p = Project()
    for label in ("orders", "catalog", "billing", "shipping", "support"):
        p.cluster(label, (label[:-1].title(),))
    p.app("mixins_pkg", modules=("mixins",))
    p.edge("proj.catalog.views", "proj.mixins_pkg.mixins", "import", 4)
    p.edge("proj.support.views", "proj.mixins_pkg.mixins", "import", 4)
    out = decompose(p.doc())
    kernel = [s for s in out["services"] if s.get("kind") == "shared_kernel"]
    assert len(kernel) == 1 and kernel[0]["apps"] == ["mixins_pkg"]
    assert "used by 2 apps" in kernel[0]["note"]


def test_a_helper_used_by_one_app_only_is_not_a_library():
    p = Project()
    for label in ("orders", "catalog", "billing"):
        p.cluster(label, (label[:-1].title(),))
    p.app("pricing_helpers", modules=("calc",))
    p.edge("proj.orders.services", "proj.pricing_helpers.calc", "import", 4)
    out = decompose(p.doc())
    assert not any(s.get("kind") == "shared_kernel" for s in out["services"])


def test_a_client_of_many_domains_that_no_app_uses_is_kept_out_of_their_boundaries():
    """An importer writes the tables of several domains and nobody calls it: clustered, it would
    join (and glue) the domain it writes most; it is set apart as a client of the services.
    (It touches too few apps' data to be an API layer over all of them.)"""
    p = Project()
    domains = ("orders", "catalog", "billing", "shipping", "reviews", "returns", "stores")
    for label in domains:
        p.cluster(label, (label[:-1].title(),))
    p.app("importer", modules=("jobs",))
    for label, places in (("orders", 9), ("catalog", 3)):
        p.edge("proj.importer.jobs", f"{label}.{label[:-1].title()}", "orm_write", places)
    p.edge("proj.importer.jobs", "proj.billing.services", "import", 2)
    out = decompose(p.doc())
    importer = service_of(out, "importer")
    assert importer["apps"] == ["importer"]
    assert "client of the services" in importer["note"]
    assert service_of(out, "orders")["apps"] == ["orders"]
    validate(out)


def test_a_dominant_hub_stands_alone_as_reference_data():
    """projects is pointed at by every domain app, far more than any other app: it is a
    reference service of its own, and the domains around it neither join it nor are glued."""
    doc = work_items_around_a_project_hub().doc()
    doc["project"]["auth_user_model"] = "users.User"  # users: identity, not the reference hub
    out = decompose(doc)
    projects = service_of(out, "projects")
    assert projects["apps"] == ["projects"]
    assert "reference data of its own" in projects["note"]
    assert "wiki" not in service_of(out, "billing")["apps"]


def test_hubs_of_like_size_are_domains_not_one_reference():
    """Two apps that foreign keys point at about as often: neither is set apart."""
    p = work_items_around_a_project_hub()
    p.cluster("tenants", ("Tenant",))
    for kind in ("stories.Story", "tasks.Task", "issues.Issue", "wiki.Page"):
        p.edge(kind, "tenants.Tenant", "fk", 1)
    doc = p.doc()
    doc["project"]["auth_user_model"] = "users.User"
    out = decompose(doc)
    assert not any("reference data of its own" in s.get("note", "") for s in out["services"])


def test_an_app_without_tables_goes_with_the_data_it_works_on():
    """dashboard owns no table: its pages read the orders' tables, though its code leans on
    catalog's helpers. It goes with orders, whose data it shows, not with catalog."""
    p = Project()
    for label in ("orders", "catalog", "billing", "shipping"):
        p.cluster(label, (label[:-1].title(),))
    p.app("dashboard", modules=("views", "charts", "tables"))
    for module in ("views", "charts", "tables"):
        p.edge(f"proj.dashboard.{module}", "proj.catalog.services", "import", 40)
        p.edge(f"proj.dashboard.{module}", "proj.catalog.views", "import", 40)
    p.edge("proj.dashboard.views", "orders.Order", "orm_read", 2)
    p.route("dashboard/", "proj.dashboard.views.index", "dashboard")
    out = decompose(p.doc())
    assert "dashboard" in service_of(out, "orders")["apps"]
    assert "dashboard" not in service_of(out, "catalog")["apps"]


def test_a_login_package_joins_identity_by_its_name_and_its_token_store_follows():
    """proj.auth (login views, no app) leans on a token store more than on users; by its name it
    is sign-in code and joins the identity service, and the token store, tied to it, follows."""
    p = hub_project()
    p.cluster("denylist", ("Denied",), routes=0)
    for module in ("proj.auth.views", "proj.auth.backends"):  # not in INSTALLED_APPS
        p.edge(module, "denylist.Denied", "orm_write", 8)
        p.edge(module, "proj.denylist.services", "import", 8)
    p.edge("proj.auth.views", "users.User", "orm_read", 2)
    p.edge("proj.auth.views", "proj.auth.backends", "import", 4)
    p.edge("denylist.Denied", "users.User", "fk", 1)
    p.route("auth/login/", "proj.auth.views.login", None)
    doc = p.doc()
    doc["project"]["auth_user_model"] = "users.User"
    out = decompose(doc)
    identity = service_of(out, "users")
    assert {"users", "auth", "denylist"} <= set(identity["apps"])
    assert "auth/login/" in identity["routes"]


def test_the_framework_every_app_builds_on_is_a_library_even_with_a_few_pages_of_its_own():
    """A framework package imported by all apps, owning no table, serving two error pages."""
    p = Project()
    for app in ("orders", "catalog", "billing", "stock"):
        p.cluster(app, (app.title(),))
    p.app("framework", modules=("base", "views"))
    for app in ("orders", "catalog", "billing", "stock"):
        p.edge(f"proj.{app}.views", "proj.framework.base", "import", 4)
    p.route("403/", "proj.framework.views.denied", "framework")
    p.route("404/", "proj.framework.views.missing", "framework")
    out = decompose(p.doc())
    kernel = service_of(out, "framework")
    assert kernel.get("kind") == "shared_kernel", kernel
    assert "framework the apps are built on" in kernel.get("note", "")
