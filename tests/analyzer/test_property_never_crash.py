"""Property-based: generated and mutated Python and Django source never crashes a stage.

Sources are built from grammar fragments (models with odd fields and relations, settings with
every literal kind, urls with path/include/router calls, views with decorators, ORM calls and
raw SQL, deep nesting), or taken from the fixture projects and mutated (truncated, garbled,
non-UTF-8 bytes). Single files go through extraction (cheap, so many of them); settings through
discovery; small whole projects through every stage: analyze, decompose (the plan), the
analysis.json contract, route files, every report format and the terminal summary. A crash that
the stage guards catch counts as a failure too: no "analyzer bug" warning is allowed.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from rich.console import Console

from analyzer.contract import write_analysis
from analyzer.decompose import decompose
from analyzer.decompose.outputs import print_decomposition, write_route_files
from analyzer.discover import discover
from analyzer.extract import extract
from analyzer.pipeline import analyze
from analyzer.report import FORMATS, write_reports
from analyzer.summary import print_summary

from .conftest import FIXTURES, REPO

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "figkit-hypothesis")  # not the source tree
BUG = "analyzer bug"
# FIGKIT_PROPERTY_SCALE=10 runs ten times the examples (a deeper search than the suite's)
_SCALE = float(os.environ.get("FIGKIT_PROPERTY_SCALE", "1"))


def _scaled(examples: int) -> int:
    return max(1, int(examples * _SCALE))


PROPERTY = settings(
    deadline=None,
    database=None,  # nothing written into the source tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- literals, every kind Python allows ----------------------------------------------------
NAMES = st.sampled_from(
    ["Thing", "Order", "Model0", "x", "BASE_DIR", "DEBUG", "INSTALLED_APPS", "_"]
)
INTS = st.integers(-(10**20), 10**20).flatmap(
    lambda n: st.sampled_from([str(n), hex(n), oct(n), bin(n), f"{n:_}", f"0{abs(n)}"])
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False).map(repr) | st.sampled_from(
    ["1e3", "1_000.5", ".5", "5.", "1E-3", "0.0"]
)
COMPLEX = st.integers(0, 10**6).map(lambda n: f"{n}j") | st.sampled_from(["1.5J", "0j"])
STRINGS = (
    st.text(max_size=15).map(repr)
    | st.binary(max_size=10).map(repr)
    | st.from_regex(r'(r|b|rb|u|f|rf|br|F|R)?"[a-z{}\\%() ._\-]{0,12}"', fullmatch=True)
    | st.from_regex(r"'''[a-z\n\"]{0,10}'''", fullmatch=True)
    | st.tuples(st.text(max_size=5).map(repr), st.text(max_size=5).map(repr)).map(" ".join)
    | NAMES.map(lambda n: f'f"{{{n}}}/x"')
)
ATOMS = (
    INTS | FLOATS | COMPLEX | STRINGS | NAMES | st.sampled_from(["True", "False", "None", "..."])
)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    items = st.lists(children, max_size=4).map(", ".join)
    return (
        items.map(lambda s: f"[{s}]")
        | items.map(lambda s: f"({s},)")
        | items.map(lambda s: f"{{{s}}}" if s else "set()")
        | st.lists(st.tuples(children, children), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
        )
        | children.map(lambda c: f"-{c}")
        | children.map(lambda c: f"({c})")
        | st.tuples(children, children).map(lambda ab: f"{ab[0]} + {ab[1]}")
        | st.tuples(children, children).map(lambda ab: f"[*{ab[0]}, *{ab[1]}]")
        | children.map(lambda c: f"{{**{c}}}")
        | children.map(lambda c: f"list({c})")
    )


LITERALS = st.recursive(ATOMS, _containers, max_leaves=12)

# -- Django fragments ------------------------------------------------------------------------
IMPORTS = st.sampled_from([
    "from django.db import models", "from django.db import models as m",
    "from django.conf import settings", "from django.urls import path, re_path, include",
    "from django.db import connection, transaction", "from rest_framework import routers, viewsets",
    "from django.contrib.auth import get_user_model", "from . import models as local",
    "from .models import *", "import billing.models as bm", "from ..x import y",
    "from django.dispatch import receiver", "from django.db.models.signals import post_save",
    "from celery import shared_task", "from mptt.models import MPTTModel, TreeForeignKey",
    "from taggit.managers import TaggableManager", "from taggit.models import TaggedItemBase",
    "from ninja import NinjaAPI, Router", "from typing import Generic",
])  # fmt: skip
FIELD_CLASSES = st.sampled_from([
    "models.ForeignKey", "models.OneToOneField", "models.ManyToManyField", "models.CharField",
    "TreeForeignKey", "GenericForeignKey", "TaggableManager", "m.ForeignKey", "ParentalKey",
    "models.IntegerField", "fields.ForeignKey", "bm.Invoice",
])  # fmt: skip
TARGETS = st.sampled_from([
    '"self"', '"other.Thing"', '"Thing"', "settings.AUTH_USER_MODEL", "get_user_model()",
    "Model0", "Model1", "bm.Invoice", '"a.b.c"', '""', '"."', "lambda: 1", '"app.Model0"',
]) | LITERALS  # fmt: skip
KWARGS = st.lists(
    st.sampled_from(["related_name", "related_query_name", "through", "on_delete", "to",
                     "db_table", "null", "max_length"]).flatmap(
        lambda k: (TARGETS | st.just("models.CASCADE") | st.just('"%(class)s_set+"')).map(
            lambda v: f"{k}={v}"
        )
    ),
    max_size=3,
)  # fmt: skip
BASES = st.lists(
    st.sampled_from(["models.Model", "Model0", "Model1", "MPTTModel", "TaggedItemBase", "object",
                     "Generic[T]", "viewsets.ModelViewSet[Model0]", "bm.Invoice", "local.Base",
                     "routers.DefaultRouter", "AbstractUser", "metaclass=Meta"]),
    max_size=3,
).map(", ".join)  # fmt: skip


@st.composite
def model_classes(draw) -> str:
    name = draw(st.sampled_from(["Model0", "Model1", "Thing", "Order", "Base"]))
    lines = [f"class {name}({draw(BASES)}):"]
    for i in range(draw(st.integers(0, 4))):
        args = [draw(TARGETS)] if draw(st.booleans()) else []
        args += draw(KWARGS)
        lines.append(f"    f{i} = {draw(FIELD_CLASSES)}({', '.join(args)})")
    if draw(st.booleans()):
        lines.append("    class Meta:")
        for key in draw(st.lists(st.sampled_from(["db_table", "abstract", "proxy", "app_label"]), min_size=1, max_size=3)):  # fmt: skip
            lines.append(f"        {key} = {draw(LITERALS)}")
    if len(lines) == 1:
        lines.append("    pass")
    return "\n".join(lines)


SQL = st.sampled_from([
    "SELECT * FROM shop_order JOIN billing_invoice ON 1=1", "UPDATE x SET a=1", "DELETE FROM",
    "INSERT INTO t (a) VALUES (%s)", "select", "WITH a AS (SELECT 1) SELECT * FROM a, b",
]) | st.text(max_size=30)  # fmt: skip
ORM_CALLS = st.sampled_from([
    "Model0.objects.filter(a__b__c=1).select_related('f0__f1')", "Model1.objects.create(x=1)",
    "bm.Invoice.objects.get(pk=1).save()", "get_user_model().objects.all()",
    "apps.get_model('app', 'Model0').objects.update(x=1)", "Model0.objects.raw({sql!r})",
    "connection.cursor().execute({sql!r})", "obj.f0.add(x)", "Model0.objects.prefetch_related(*x)",
    "task.delay(1)", "Model0.objects.filter(**{{'a__b': 1}}).delete()", "self.f0.f1.save()",
])  # fmt: skip
DECORATORS = st.sampled_from([
    "@transaction.atomic", "@transaction.atomic(using='x')", "@require_POST", "@shared_task",
    "@api_view(['GET', 'POST'])", "@receiver(post_save, sender=Model0)", "@receiver([a, b])",
    "@router.get('/items/{int:id}')", "@action(detail=True, methods=['post'], url_path='x')",
    "@login_required", "@app.task(name='x.y')", "@property",
])  # fmt: skip


@st.composite
def functions(draw) -> str:
    lines = draw(st.lists(DECORATORS, max_size=2))
    lines.append(
        f"def {draw(st.sampled_from(['view', 'index', 'run', 'handler']))}(request, *a, **kw):"
    )
    body = [draw(ORM_CALLS).format(sql=draw(SQL)) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        body = ["with transaction.atomic():", *(f"    {b}" for b in body or ["pass"])]
    lines += [f"    {b}" for b in body or ["return None"]]
    return "\n".join(lines)


URL_ENTRIES = st.one_of(
    st.tuples(STRINGS, st.sampled_from(["views.index", "View.as_view()", "include('app.urls')",
                                        "include((patterns, 'ns'))", "include(router.urls)",
                                        "include('rest_framework.urls', namespace='rf')", "api.urls"])
              ).map(lambda pv: f"path({pv[0]}, {pv[1]}, name={pv[0]})"),
    STRINGS.map(lambda s: f"re_path({s}, views.index)"),
    st.just("*other_patterns"),
)  # fmt: skip


@st.composite
def urlconfs(draw) -> str:
    lines = ["urlpatterns = [" + ", ".join(draw(st.lists(URL_ENTRIES, max_size=4))) + "]"]
    if draw(st.booleans()):
        lines.append(f"router = routers.DefaultRouter(trailing_slash={draw(LITERALS)})")
        for _ in range(draw(st.integers(0, 3))):
            lines.append(
                f"router.register({draw(STRINGS)}, {draw(BASES) or 'V'}, basename={draw(STRINGS)})"
            )
        lines.append(draw(st.sampled_from(["urlpatterns += router.urls", "urlpatterns = format_suffix_patterns(urlpatterns)", "app_name = 'x'"])))  # fmt: skip
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(URL_EXTRAS).format(lit=draw(LITERALS), entry=draw(URL_ENTRIES), s=draw(STRINGS)))  # fmt: skip
    return "\n".join(lines)


URL_EXTRAS = st.sampled_from([
    "if settings.DEBUG:\n    urlpatterns += [{entry}]",
    "if not settings.X and {lit}:\n    urlpatterns.append({entry})\nelse:\n    pass",
    "if getattr(settings, {s}, {lit}):\n    urlpatterns.extend([{entry}])",
    "if settings.FEATURES.get({s}, {lit}) == {lit}:\n    urlpatterns.insert(0, {entry})",
    "router.register({s}, V).register({s}, W, basename={s}, parents_query_lookups=[{s}])",
    "nested = NestedSimpleRouter(router, {s}, lookup={s})\nnested.register({s}, V)\nurlpatterns += nested.urls",
    "class Router(routers.DefaultRouter):\n    routes = [{lit}, Route(url={s}, mapping={lit}, name={s}, detail={lit}, initkwargs={{}})]",
    "class Cfg(AppConfig):\n    def ready(self):\n        from cfg.urls import urlpatterns\n        urlpatterns.append({entry})",
    "urlpatterns = format_suffix_patterns(urlpatterns, allowed={lit}, suffix_required={lit})",
    "router = routers.SimpleRouter(trailing_slash={lit}, use_regex_path={lit})",
])  # fmt: skip


SETTINGS_LINES = st.one_of(
    st.tuples(st.sampled_from(["INSTALLED_APPS", "ROOT_URLCONF", "AUTH_USER_MODEL", "DEBUG",
                               "FILE_UPLOAD_PERMISSIONS", "X"]), LITERALS).map(lambda nv: f"{nv[0]} = {nv[1]}"),
    LITERALS.map(lambda v: f"INSTALLED_APPS += {v}"),
    LITERALS.map(lambda v: f"INSTALLED_APPS.append({v})"),
    LITERALS.map(lambda v: f"INSTALLED_APPS.insert({v}, 'x')"),
    LITERALS.map(lambda v: f"if DEBUG: INSTALLED_APPS += [{v}]"),
    LITERALS.map(lambda v: f"try:\n    X = {v}\nexcept ImportError:\n    pass"),
    st.sampled_from(["from .base import *", "from .missing import *", "from . import *",
                     "DEBUG: bool = True", "X: int", "del X", "X, Y = 1, 2"]),
)  # fmt: skip
DEEP = st.integers(1, 60).map(lambda n: "x = " + "(" * n + "1" + ")" * n) | st.integers(1, 40).map(
    lambda n: "".join(" " * i + "if x:\n" for i in range(n)) + " " * n + "pass"
)
STATEMENTS = st.one_of(
    IMPORTS, model_classes(), functions(), urlconfs(), SETTINGS_LINES, DEEP,
    LITERALS.map(lambda v: f"X = {v}"),
)  # fmt: skip
MODULES = st.lists(STATEMENTS, max_size=8).map(lambda s: "\n\n".join(s) + "\n")


# -- mutations ----------------------------------------------------------------------------
@st.composite
def mutated(draw, sources: st.SearchStrategy[bytes]) -> bytes:
    data = draw(sources)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["cut", "delete", "insert", "duplicate", "indent", "swap"]))
        if op == "cut":
            data = data[:at]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif op == "insert":
            junk = draw(st.binary(max_size=6) | st.sampled_from([b"(", b"[", b'"', b"'''", b":", b"\\", b"\t", b"\xff\xfe", b"\x00", b"f'{", b"\r"]))  # fmt: skip
            data = data[:at] + junk + data[at:]
        elif op == "duplicate":
            data = data[:at] + data[at : at + 80] + data[at:]
        elif op == "indent":
            data = data[:at] + b"\n    " + data[at:]
        else:
            lines = data.split(b"\n")
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            j = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    return data


FIXTURE_FILES = sorted(
    p for root in (FIXTURES, REPO / "legacy_monolith") for p in root.rglob("*.py")
    if "__pycache__" not in p.parts
)  # fmt: skip
FIXTURE_SOURCES = st.sampled_from(FIXTURE_FILES).map(Path.read_bytes)
ENCODED = MODULES.map(str.encode)


def _no_bug(warnings) -> None:
    bugs = [w for w in warnings if BUG in w.message]
    assert not bugs, bugs


@settings(PROPERTY, max_examples=_scaled(2000))
@given(source=ENCODED | mutated(ENCODED))
def test_extraction_never_crashes_on_generated_django_source(source):
    facts = extract(source, "app/models.py", "app.models", False)
    _no_bug(facts.warnings)


@settings(PROPERTY, max_examples=_scaled(1200))
@given(source=mutated(FIXTURE_SOURCES), is_package=st.booleans())
def test_extraction_never_crashes_on_mutated_real_files(source, is_package):
    facts = extract(source, "pkg/views.py", "pkg" if is_package else "pkg.views", is_package)
    _no_bug(facts.warnings)


def _write(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


MANAGE = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cfg.settings')\n"
SETTINGS_FILES = st.lists(SETTINGS_LINES, max_size=8).map(lambda s: "\n".join(s) + "\n")


@settings(PROPERTY, max_examples=_scaled(600))
@given(
    settings_source=SETTINGS_FILES | mutated(SETTINGS_FILES.map(str.encode)), base=SETTINGS_FILES
)
def test_settings_reader_never_crashes(settings_source, base):
    with tempfile.TemporaryDirectory() as tmp:
        root = _write(Path(tmp), {"manage.py": MANAGE, "cfg/__init__.py": "",
                                  "cfg/settings.py": settings_source, "cfg/base.py": base})  # fmt: skip
        _no_bug(discover(root).warnings)


HEADER = (
    "from django.db import models, connection, transaction\nfrom django.conf import settings\n"
    "from django.urls import path, re_path, include\nfrom rest_framework import routers, viewsets\n"
    "from django.contrib.auth import get_user_model\nfrom django.dispatch import receiver\n"
    "from django.db.models.signals import post_save\nfrom celery import shared_task\n"
)
MODEL_MODULES = st.lists(
    model_classes() | model_classes().map(lambda c: c.replace("(", "(models.Model, ", 1)),
    min_size=1, max_size=4,
).map("\n\n".join)  # fmt: skip
APP_MODULES = {
    "models": MODEL_MODULES,
    "views": st.lists(functions(), max_size=4).map("\n\n".join),
    "urls": urlconfs().map(lambda u: f"from . import views\n{u}"),
}


@st.composite
def projects(draw) -> dict[str, bytes | str]:
    """Two apps whose models, views and urls are mostly well-formed (so that linking,
    clustering and the plan get real models, routes and edges), sometimes mutated."""
    files: dict[str, bytes | str] = {
        "manage.py": MANAGE,
        "cfg/__init__.py": "",
        "cfg/settings.py": draw(st.sampled_from([
            "INSTALLED_APPS = ['alpha', 'beta', 'django.contrib.auth']\nROOT_URLCONF = 'cfg.urls'\n",
            "INSTALLED_APPS = ['alpha']\nAUTH_USER_MODEL = 'beta.Model0'\nROOT_URLCONF = 'cfg.urls'\n",
        ])) + draw(SETTINGS_FILES),  # fmt: skip
        "cfg/urls.py": "from django.urls import include, path\nurlpatterns = [path('a/', include('alpha.urls')), path('b/', include('beta.urls'))]\n",
    }  # fmt: skip
    for app, other in (("alpha", "beta"), ("beta", "alpha")):
        files[f"{app}/__init__.py"] = ""
        for module, strategy in APP_MODULES.items():
            imports = (
                f"from {other}.models import *\nfrom .models import *\n" if module != "urls" else ""
            )
            source = HEADER + imports + draw(strategy) + "\n" + draw(MODULES)
            files[f"{app}/{module}.py"] = draw(mutated(st.just(source.encode()))) if draw(st.integers(0, 5)) == 0 else source  # fmt: skip
    return files


@settings(PROPERTY, max_examples=_scaled(150))
@given(files=projects())
def test_every_stage_of_figkit_analyze_survives_generated_projects(files):
    with tempfile.TemporaryDirectory() as tmp:
        _every_stage(_write(Path(tmp) / "project", files), Path(tmp) / "out")


FIXTURE_PROJECTS = ["tinyshop", "twoclusters", "ninjashop", "sitepackages_project"]


def _every_stage(root: Path, out: Path) -> None:
    analysis = analyze(root, jobs=1, cache_dir=None)
    _no_bug(analysis.warnings)
    document = decompose(analysis.to_json())
    written = write_analysis(document, out)  # validates against the schema
    write_route_files(document, out)
    write_reports(document, out, FORMATS)
    console = Console(file=io.StringIO(), width=100)
    print_summary(analysis, document, str(written), console)
    print_decomposition(document, console)


@settings(PROPERTY, max_examples=_scaled(80))
@given(name=st.sampled_from(FIXTURE_PROJECTS), data=st.data())
def test_every_stage_survives_mutated_fixture_projects(name, data):
    source = FIXTURES / name
    files = sorted(
        p.relative_to(source) for p in source.rglob("*.py") if "__pycache__" not in p.parts
    )
    chosen = data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__"))
        for rel in chosen:
            (root / rel).write_bytes(data.draw(mutated(st.just((source / rel).read_bytes()))))
        _every_stage(root, Path(tmp) / "out")
