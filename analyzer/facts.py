"""What one source file says about coupling, before anything is linked across files.

Extraction turns one file into a :class:`FileFacts`; it knows the file's own module name and
imports but nothing about other files, so references stay as written, resolved only as far as
the file allows:

- ``"q:pkg.mod.Name"``: a qualified name reached through imports or local definitions;
- ``"s:app.Model"``, ``"s:Model"``, ``"s:self"``: a model named by a string;
- ``"user"``: the user model (``settings.AUTH_USER_MODEL`` or ``get_user_model()``).

Linking (analyzer/link) resolves them against every file's facts. Facts are plain frozen
dataclasses, so they pickle into the cache and across worker processes cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Ref = str
USER_MODEL: Ref = "user"


@dataclass(frozen=True, slots=True)
class Import:
    target: str  # dotted name as imported: a module, or module.name for `from m import name`
    line: int


@dataclass(frozen=True, slots=True)
class Relation:
    """A model field that points at another model (or a GenericForeignKey)."""

    name: str
    field_class: str  # qualified name of the field's class, e.g. django.db.models.ForeignKey
    target: Ref | None
    line: int
    related_name: str | None = None
    related_query_name: str | None = None
    through: Ref | None = None  # m2m through model (django-taggit's managers point there)
    on_delete: str | None = None  # as written, last name only: CASCADE, SET_NULL, SET ...


@dataclass(frozen=True, slots=True)
class ClassDef:
    qualname: str
    name: str
    line: int
    bases: tuple[Ref, ...]
    meta: dict[str, object] = field(default_factory=dict)  # db_table, abstract, proxy, app_label
    relations: tuple[Relation, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)  # class-level string constants
    methods: tuple[str, ...] = ()
    actions: tuple[ViewAction, ...] = ()  # DRF @action methods
    function: str | None = None  # set when the class is defined inside a function
    flags: dict[str, bool] = field(default_factory=dict)  # class-level bool constants
    # a DRF router's own `routes = [Route(...), DynamicRoute(...)]`, when written statically
    route_templates: tuple[RouteTemplate, ...] = ()


@dataclass(frozen=True, slots=True)
class ViewAction:
    name: str
    detail: bool
    methods: tuple[str, ...]
    url_path: str
    line: int
    extra: tuple[tuple[str, str], ...] = ()  # @<action>.mapping.<method>: (METHOD, method name)


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """One entry of a DRF router's ``routes``: ``Route(url, mapping, name, detail)`` or a
    dynamic one (``DynamicRoute``, the older ``DynamicDetailRoute``/``DynamicListRoute``)
    that stands for each ``@action`` of the viewset."""

    url: str  # e.g. "^{prefix}/{lookup}{trailing_slash}$"
    name: str  # e.g. "{basename}-detail"
    mapping: tuple[tuple[str, str], ...] = ()  # (http method, viewset action)
    detail: bool | None = None  # None: not said (an old-style Route: by its {lookup})
    dynamic: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    qualname: str
    line: int
    decorators: tuple[Ref, ...] = ()
    http_methods: tuple[str, ...] = ()  # from require_POST / require_http_methods / api_view
    task_name: str | None = None  # set for Celery tasks
    returns: tuple[Ref, ...] = ()  # calls whose result it returns (atomic wrappers)
    yields_in: tuple[int, ...] = ()  # with-blocks it yields inside (contextmanager wrappers)


@dataclass(frozen=True, slots=True)
class OrmCall:
    """One ORM expression: a model (or instance) reached from code, and what is done to it."""

    model: Ref
    instance: bool  # the root is an instance of the model, not the class
    path: tuple[str, ...]  # attributes between root and first call: ("objects",), ("lines",)
    methods: tuple[str, ...]  # the chain of method calls, outermost last
    lookups: tuple[str, ...]  # field paths used in filters, select_related, order_by ...
    line: int
    function: str | None
    blocks: tuple[int, ...] = ()  # enclosing with-blocks (atomic candidates)


@dataclass(frozen=True, slots=True)
class Call:
    """A call to something with a qualified name: for atomic wrappers, tasks and call graphs."""

    target: Ref
    line: int
    function: str | None
    blocks: tuple[int, ...] = ()
    args: tuple[str, ...] = ()  # string literal arguments (send_task("name"))
    # SQL literals passed: (arg index, tables named, parsed, tables written)
    sql: tuple[tuple[int, tuple[str, ...], bool, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class WithBlock:
    id: int
    line: int
    context: Ref  # what the with-statement calls, e.g. q:django.db.transaction.atomic
    function: str | None


@dataclass(frozen=True, slots=True)
class Receiver:
    signals: tuple[Ref, ...]
    sender: Ref | None
    receiver: str | None  # qualified name of the receiving function
    line: int


@dataclass(frozen=True, slots=True)
class SignalDef:
    qualname: str
    line: int


@dataclass(frozen=True, slots=True)
class RawSql:
    tables: tuple[str, ...]
    line: int
    function: str | None
    parsed: bool  # False when the SQL parser failed and a tolerant scan found the tables
    blocks: tuple[int, ...] = ()
    written: tuple[str, ...] = ()  # tables an INSERT, UPDATE, DELETE, MERGE or TRUNCATE changes


@dataclass(frozen=True, slots=True)
class UrlEntry:
    kind: str  # path | re_path
    pattern: str
    line: int
    view: Ref | None = None  # view function or class (as_view)
    include: Ref | None = None  # "m:dotted.module" | q:name of a list / router / ninja api
    namespace: str | None = None
    app_name: str | None = None
    name: str | None = None
    format_suffix: bool = False  # passed through format_suffix_patterns()
    condition: str | None = None  # the `if` it is added under, as written
    language_prefix: bool = False  # in i18n_patterns(): after the language code ("en/")


@dataclass(frozen=True, slots=True)
class UrlList:
    name: str  # module-level variable holding patterns (urlpatterns, api_patterns ...)
    entries: tuple[UrlEntry, ...]
    app_name: str | None = None  # the (patterns, "app_name") tuple form
    routers: tuple[Ref, ...] = ()  # `urlpatterns += router.urls`
    # the module whose list this extends when it is not this file's own (`urls.urlpatterns
    # += [...]` in AppConfig.ready()); "<root>" for the root urlconf (import_module(settings.ROOT_URLCONF))
    owner: str | None = None
    condition: str | None = None  # applies to `routers`
    format_suffix: bool = False  # applies to `routers`


@dataclass(frozen=True, slots=True)
class RouterDef:
    """``router = SomeRouter(...)`` at module level: the options that shape its URLs."""

    router: str  # qualified name of the router variable
    cls: Ref
    line: int
    trailing_slash: bool | None = None  # None: not passed (the class decides)
    parent: Ref | None = None  # drf-nested-routers: NestedSimpleRouter(parent, "prefix", lookup=)
    parent_prefix: str | None = None
    lookup: str | None = None


@dataclass(frozen=True, slots=True)
class RouterRegistration:
    router: str  # qualified name of the router variable
    prefix: str
    viewset: Ref
    basename: str | None
    line: int
    # drf-extensions' nested registration: (parent prefix, parents_query_lookups entry) per
    # level, outermost first: `router.register("a", A).register("b", B, parents_query_lookups=["a"])`
    parents: tuple[tuple[str, str], ...] = ()
    condition: str | None = None  # the `if` it is registered under, as written


@dataclass(frozen=True, slots=True)
class NinjaOperation:
    """A django-ninja operation: ``@router.get("/items/{int:id}")`` on a function."""

    owner: str  # qualname of the NinjaAPI or Router the decorator hangs on
    methods: tuple[str, ...]
    path: str
    view: str
    line: int


@dataclass(frozen=True, slots=True)
class NinjaMount:
    """``api.add_router("/items", router)``: a router's operations under a prefix."""

    api: str  # qualname of the NinjaAPI (or Router) that mounts
    prefix: str
    router: Ref  # "q:qualname", or "m:dotted.path" when given as a string
    line: int


@dataclass(frozen=True, slots=True)
class ViewRegistration:
    """A view attached to a model by a registry decorator (netbox's ``@register_model_view``),
    which ``get_model_urls(app, model)`` turns into routes at import time."""

    model: Ref
    name: str
    path: str
    detail: bool
    view: str
    line: int


@dataclass(frozen=True, slots=True)
class Warning_:
    file: str
    message: str
    line: int | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(slots=True)
class FileFacts:
    """Everything extraction learnt from one file."""

    path: str  # relative to the analysed root, with forward slashes
    module: str
    lines: int = 0
    imports: list[Import] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # module-level name -> qualified name
    star_imports: list[str] = field(default_factory=list)
    classes: list[ClassDef] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    orm: list[OrmCall] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    blocks: list[WithBlock] = field(default_factory=list)
    receivers: list[Receiver] = field(default_factory=list)
    signals: list[SignalDef] = field(default_factory=list)
    raw_sql: list[RawSql] = field(default_factory=list)
    url_lists: list[UrlList] = field(default_factory=list)
    routers: list[RouterRegistration] = field(default_factory=list)
    router_vars: dict[str, str] = field(default_factory=dict)  # qualname -> router class ref
    router_defs: list[RouterDef] = field(default_factory=list)
    view_registrations: list[ViewRegistration] = field(default_factory=list)
    ninja_operations: list[NinjaOperation] = field(default_factory=list)
    ninja_mounts: list[NinjaMount] = field(default_factory=list)
    app_name: str | None = None  # a urlconf's `app_name = "..."` (its default namespace)
    sql_sinks: dict[str, list[int]] = field(default_factory=dict)  # function -> params it executes
    warnings: list[Warning_] = field(default_factory=list)
