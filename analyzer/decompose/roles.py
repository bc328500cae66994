"""What part an app plays before any clustering: shared kernel, API layer, or an ordinary domain app.

An architect does not cut a monolith by coupling alone. A framework-like package that every app
imports (base classes, routers, utilities) is a library to vendor or publish, not a service; an
API layer that reads most apps' tables and owns none (a GraphQL schema over every domain) is a
gateway in front of the services, not glue between them; a model that foreign keys from many
apps point at (the user model) is reference data, whose pull on the clustering is divided
among the apps that point at it. Every rule reads only graph structure, counts, routes, tables
and generic framework-like names, never a particular project's apps.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from analyzer.decompose.coupling import Coupling, route_element
from analyzer.edge_kinds import RELATION_KINDS

# Names that say "framework code", whatever the project: generic, not any project's app.
FRAMEWORK_NAMES = frozenset(
    {"base", "common", "commons", "core", "framework", "helpers", "lib", "libs", "mixins",
     "shared", "toolkit", "util", "utils", "utilities"}
)  # fmt: skip
# Names that say "sign-in and accounts of users", whatever the project: such an app (or a login
# package that is no app) joins the identity service when it is tied to it, or to nothing.
IDENTITY_NAMES = frozenset(
    {"account", "accounts", "auth", "authentication", "login", "oauth", "registration",
     "signup", "sso"}
)  # fmt: skip
DATA_KINDS = frozenset({"orm_read", "orm_write", "join", "raw_sql", "atomic"})
MANY_APPS = 0.2  # "used by many": at least this share of the other apps (and at least 3)
SHARED_BY = 2  # code used by this many other apps is shared, not one app's helper
FEW_ROUTES = 3  # a framework-named package may serve a handful (a health or a keys page)
FEW_TABLES = 3
DOMINANT = 2  # a reference hub is pointed at from this many times as many apps as any other
HUB_SHARE = 0.35  # a hub: foreign keys from at least this share of the other apps point at it
# A sub-package with these names holds the project's apps in general, not one family of them.
CONTAINER_NAMES = frozenset({"apps", "applications", "contrib", "django_apps", "modules", "src"})


@dataclass
class AppProfile:
    """One app seen from outside: what it owns, who uses it, what it uses."""

    tables: int = 0
    live_routes: int = 0  # own routes, not external, not under a settings condition
    conditional_routes: int = 0
    dependents: set[str] = field(default_factory=set)  # other apps with an edge into it
    dependencies: set[str] = field(default_factory=set)  # other apps it has an edge into
    data_of: set[str] = field(default_factory=set)  # other apps whose tables it reads or writes
    referenced_by: set[str] = field(default_factory=set)  # other apps whose FKs point at it

    @property
    def routes(self) -> int:
        return self.live_routes + self.conditional_routes


def profiles(coupling: Coupling) -> dict[str, AppProfile]:
    out = {app: AppProfile() for app in coupling.apps}
    for element in coupling.elements.values():
        if element.kind == "model" and coupling.models[element.id].get("table"):
            out[element.app].tables += 1
    for route in coupling.routes:
        served_by = route_element(coupling, route)
        if served_by is None:
            continue
        profile = out[coupling.elements[served_by].app]
        if route.get("conditional"):
            profile.conditional_routes += 1
        else:
            profile.live_routes += 1
    for edge in coupling.edges:
        a, b = coupling.elements[edge["source"]].app, coupling.elements[edge["target"]].app
        if a == b:
            continue
        out[b].dependents.add(a)
        out[a].dependencies.add(b)
        if edge["kind"] in DATA_KINDS:
            out[a].data_of.add(b)
        if edge["kind"] in RELATION_KINDS:
            out[b].referenced_by.add(a)
    return out


@dataclass(frozen=True)
class Roles:
    kernel: dict[str, str]  # app -> why it is a library, not a service
    gateway: dict[str, str]  # app -> why it is an API layer of its own
    identity: dict[str, str]  # the user model's app -> why it is a service of its own
    reference: dict[str, str]  # the one dominant hub (a project, a tenant) -> why it stands alone
    package_of: dict[str, str]  # app -> the sub-package it shares with sibling apps
    profiles: dict[str, AppProfile]


def _many(coupling: Coupling) -> float:
    return max(3.0, MANY_APPS * (len(coupling.apps) - 1))


def find_roles(coupling: Coupling) -> Roles:
    """The shared kernel and API layers among the apps, and the sibling apps grouped by package."""
    prof = profiles(coupling)
    many = _many(coupling)
    others = max(1, len(coupling.apps) - 1)
    kernel: dict[str, str] = {}
    gateway: dict[str, str] = {}
    for app, p in sorted(prof.items()):
        if coupling.apps[app].get("pseudo"):
            continue  # a package found through its routes is a candidate service, never a library
        used = len(p.dependents)
        # Code that owns no data and serves no client, shared by apps (base classes, an event
        # publisher hooked on saves, URL builders, abstract mixins): it goes where its users go,
        # and with more than one user that is everywhere. An app that reads or writes a third
        # of the apps' data is an API layer (below), not a library.
        if used >= SHARED_BY and p.routes == 0 and p.tables == 0 and len(p.data_of) < others / 3:
            kernel[app] = (
                f"used by {used} apps, serves no route and owns no table: a library to vendor or publish"
            )
        elif (  # the framework a project is built on: used by most apps, a few pages of its own
            used >= others / 2
            and p.tables == 0
            and p.live_routes <= FEW_ROUTES
            and len(p.data_of) < others / 3
        ):
            kernel[app] = (
                f"used by {used} of the other {others} apps, owns no table and serves "
                f"{p.live_routes} live route(s): the framework the apps are built on, a library"
            )
        elif (
            app.lower() in FRAMEWORK_NAMES
            and used >= many
            and p.live_routes <= FEW_ROUTES
            and p.tables <= FEW_TABLES
        ):
            kernel[app] = (
                f"framework-like name, used by {used} apps, {p.live_routes} live route(s) and "
                f"{p.tables} table(s): a library to vendor or publish"
            )
        elif (  # routes or not: an API layer serves the other apps' data (one GraphQL endpoint)
            p.tables == 0 and len(p.data_of) >= others / 3 and len(p.dependencies) >= others / 2
        ):
            gateway[app] = (
                f"owns no table and reads or writes the tables of {len(p.data_of)} apps: an API layer "
                "over the services (a gateway or backend-for-frontend), kept out of their boundaries"
            )
        elif p.tables == 0 and not p.dependents and len(p.dependencies) >= many:
            # A client of many domains that no app calls (an importer, an exporter, a batch
            # job): clustered, it would glue whichever domains it touches most.
            gateway[app] = (
                f"owns no table, is used by no app and depends on {len(p.dependencies)} apps: a "
                "client of the services (an importer, an exporter, a batch job), kept out of "
                "their boundaries"
            )
    identity: dict[str, str] = {}
    user_app = coupling.user_app
    if user_app and user_app not in kernel and user_app not in gateway:
        identity[user_app] = (
            f"holds the user model (AUTH_USER_MODEL), which {len(prof[user_app].referenced_by)} "
            "apps point at: an identity service of its own, that others hold users of by id"
        )
    return Roles(
        kernel=kernel,
        gateway=gateway,
        identity=identity,
        reference=_reference_hub(coupling, prof, {*kernel, *gateway, *identity}),
        package_of=_sibling_packages(coupling),
        profiles=prof,
    )


def _reference_hub(
    coupling: Coupling, prof: dict[str, AppProfile], taken: set[str]
) -> dict[str, str]:
    """The one app that foreign keys from many apps point at, far more than at any other (the
    project every work item, wiki page and vote belongs to): a reference service of its own,
    so that it does not glue the contexts that hang off it. Several hubs of like size are
    domains that refer to each other, not one reference: none is set apart."""
    many = max(3.0, HUB_SHARE * (len(coupling.apps) - 1))
    ranked = sorted(
        ((len(p.referenced_by), app) for app, p in prof.items() if app not in taken),
        reverse=True,
    )
    if not ranked or ranked[0][0] < many:
        return {}
    count, app = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0
    if count < DOMINANT * runner_up:
        return {}
    return {
        app: f"referenced by foreign keys from {count} apps (any other app from at most "
        f"{runner_up}): reference data of its own, that the services hang off and hold by id"
    }


def _sibling_packages(coupling: Coupling) -> dict[str, str]:
    """Apps that sit side by side in one sub-package that is itself no app (proj.integrations.slack,
    proj.integrations.email): the authors grouped them, so they start as one group."""
    names = {label: app.get("name") or label for label, app in coupling.apps.items()}
    app_names = set(names.values())
    parent = {label: name.rpartition(".")[0] for label, name in names.items()}
    count = Counter(parent.values())
    return {
        label: p
        for label, p in parent.items()
        if "." in p
        and p not in app_names
        and count[p] >= 2
        and p.rpartition(".")[2] not in CONTAINER_NAMES
    }


def reference_counts(coupling: Coupling) -> dict[str, int]:
    """For each element, how many other apps have an edge into it: the degree that hub
    normalisation divides by, under a square root (a model pointed at from 16 apps pulls each
    with 1/4)."""
    sources: dict[str, set[str]] = defaultdict(set)
    for edge in coupling.edges:
        a = coupling.elements[edge["source"]].app
        if a != coupling.elements[edge["target"]].app:
            sources[edge["target"]].add(a)
    return {element: len(apps) for element, apps in sources.items()}


def hubs(coupling: Coupling, prof: dict[str, AppProfile]) -> list[str]:
    """Apps that foreign keys from many apps point at (the user model's app): reported as reference data."""
    many = max(3.0, HUB_SHARE * (len(coupling.apps) - 1))
    return sorted(app for app, p in prof.items() if len(p.referenced_by) >= many)
