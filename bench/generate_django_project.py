"""Write a synthetic Django project of N apps, for measuring how analysis time grows with size.

    python bench/generate_django_project.py OUT_DIR --apps N [--seed S]

Every app has the same shape and about the same size (models with relations in every
reference form, services with ORM reads and writes, joins, atomic blocks, signals, Celery
tasks, raw SQL, views and urls), and couples to at most three earlier apps, so code and
coupling both grow linearly with N. Deterministic for a given (N, seed); standard library only.
The project is written to a temporary folder and renamed at the end, so a failure leaves
nothing half-written.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

MODELS_PER_APP = 8
HELPERS_PER_APP = 40


def app_name(index: int) -> str:
    return f"app{index:03d}"


def model_name(app: int, index: int) -> str:
    return f"Thing{app:03d}x{index}"


def models_py(app: int, peers: list[int], rng: random.Random) -> str:
    lines = [
        "from django.conf import settings",
        "from django.contrib.auth import get_user_model",
        "from django.db import models",
        "",
    ]
    for peer in peers[:1]:
        lines.insert(3, f"from shopgen.{app_name(peer)}.models import {model_name(peer, 0)}")
    for peer in peers[1:2]:
        lines.insert(3, f"import shopgen.{app_name(peer)}.models as m{peer:03d}")
    lines += [
        "",
        "class Stamped(models.Model):",
        "    created_at = models.DateTimeField(auto_now_add=True)",
        "    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name='+')",
        "",
        "    class Meta:",
        "        abstract = True",
        "",
    ]
    for index in range(MODELS_PER_APP):
        name = model_name(app, index)
        lines += ["", f"class {name}(Stamped):", f'    """Thing {index} of app {app}."""', ""]
        lines.append(f"    name = models.CharField(max_length={rng.randint(20, 200)})")
        lines.append("    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)")
        if index > 0:
            lines.append(
                f"    parent = models.ForeignKey({model_name(app, index - 1)}, on_delete=models.CASCADE, related_name='children{index}')"
            )
        if index == 1:
            lines.append(
                "    previous = models.ForeignKey('self', null=True, on_delete=models.SET_NULL)"
            )
        if index == 2 and peers:
            lines.append(
                f"    owner = models.ForeignKey({model_name(peers[0], 0)}, on_delete=models.PROTECT, related_name='owned{app:03d}')"
            )
        if index == 3 and len(peers) > 1:
            lines.append(
                f"    partner = models.OneToOneField(m{peers[1]:03d}.{model_name(peers[1], 1)}, null=True, on_delete=models.SET_NULL, related_name='partner{app:03d}')"
            )
        if index == 4 and len(peers) > 2:
            lines.append(
                f"    links = models.ManyToManyField('{app_name(peers[2])}.{model_name(peers[2], 2)}', blank=True, related_name='linked{app:03d}')"
            )
        if index == 5:
            lines.append(
                "    reviewer = models.ForeignKey(get_user_model(), null=True, on_delete=models.SET_NULL, related_name='+')"
            )
        lines += ["", "    class Meta:"]
        lines.append(
            f"        db_table = 'legacy_{app_name(app)}_{index}'"
            if index % 3 == 0
            else "        ordering = ['name']"
        )
        lines += ["", "    def __str__(self):", "        return self.name", ""]
        lines += ["    def touch(self):", "        self.save(update_fields=['name'])", ""]
    if app == 0:
        lines += [
            "",
            "class Member(models.Model):",
            "    email = models.EmailField(unique=True)",
            "    last_login = models.DateTimeField(null=True)",
            "",
            "    @property",
            "    def is_authenticated(self):",
            "        return True",
            "",
        ]
    return "\n".join(lines) + "\n"


def services_py(app: int, peers: list[int], rng: random.Random) -> str:
    names = [model_name(app, i) for i in range(MODELS_PER_APP)]
    lines = [
        "from django.db import transaction",
        "from django.db.models import Q",
        "",
        f"from shopgen.{app_name(app)}.models import {', '.join(names)}",
        f"from shopgen.{app_name(app)}.signals import thing_changed",
        f"from shopgen.{app_name(app)}.tasks import recompute",
    ]
    for peer in peers:
        lines.append(f"from shopgen.{app_name(peer)} import services as services{peer:03d}")
    lines += [""]
    for index, name in enumerate(names):
        lines += [
            "",
            f"def list_{index}(term):",
            f"    return list({name}.objects.filter(Q(name__icontains=term)).order_by('-created_at')[:50])",
            "",
            "",
            f"def create_{index}(name, amount):",
            f"    thing = {name}.objects.create(name=name, amount=amount)",
            "    thing_changed.send(sender=None, thing=thing)",
            "    recompute.delay(thing.pk)",
            "    return thing",
            "",
            "",
            f"def rename_{index}(pk, name):",
            f"    thing = {name}.objects.get(pk=pk)",
            "    thing.name = name",
            "    thing.save()",
            "    return thing",
            "",
        ]
        if index > 0:
            lines += [
                "",
                f"def children_{index}(pk):",
                f"    return {name}.objects.select_related('parent').filter(parent__name__startswith='x', parent__pk=pk)",
                "",
            ]
    if peers:
        lines += [
            "",
            "def owned_by(name):",
            f"    return {names[2]}.objects.filter(owner__name=name).select_related('owner')",
            "",
        ]
    lines += [
        "",
        "@transaction.atomic",
        "def move_all(pk, amount):",
        f"    {names[0]}.objects.filter(pk=pk).update(amount=amount)",
        f"    {names[1]}.objects.filter(parent_id=pk).delete()",
    ]
    for peer in peers:
        lines.append(f"    services{peer:03d}.create_0('moved', amount)")
    lines += [
        "",
        "",
        "def settle(pk):",
        "    with transaction.atomic():",
        f"        thing = {names[3]}.objects.select_for_update().get(pk=pk)",
        "        thing.amount = 0",
        "        thing.save()",
        f"        {names[4]}.objects.create(name='settled', parent_id=pk)",
        "",
    ]
    for number in range(HELPERS_PER_APP):
        op = rng.choice(["+", "-", "*"])
        lines += [
            "",
            f"def helper_{number}(values, factor={rng.randint(1, 9)}):",
            f'    """Normalise values, variant {number}."""',
            "    total = 0",
            "    for value in values:",
            "        if value is None:",
            "            continue",
            f"        total = total {op} value * factor",
            "    if total < 0:",
            "        total = -total",
            "    return round(total, 2)",
            "",
        ]
    return "\n".join(lines) + "\n"


def small_files(app: int, peers: list[int]) -> dict[str, str]:
    label = app_name(app)
    first = model_name(app, 0)
    files = {
        "__init__.py": "",
        "apps.py": f"from django.apps import AppConfig\n\n\nclass App{app:03d}Config(AppConfig):\n    name = 'shopgen.{label}'\n    label = '{label}'\n",
        "signals.py": "from django.dispatch import Signal\n\nthing_changed = Signal()\n",
        "tasks.py": f"from celery import shared_task\n\nfrom shopgen.{label}.models import {first}\n\n\n@shared_task\ndef recompute(pk):\n    thing = {first}.objects.get(pk=pk)\n    thing.touch()\n",
        "admin.py": f"from django.contrib import admin\n\nfrom shopgen.{label}.models import {first}\n\nadmin.site.register({first})\n",
    }
    receivers = [
        "from django.db.models.signals import post_save",
        "from django.dispatch import receiver",
        "",
        f"from shopgen.{label}.models import {first}",
    ]
    for peer in peers:
        receivers.append(
            f"from shopgen.{app_name(peer)}.signals import thing_changed as changed{peer:03d}"
        )
    receivers += [
        "",
        "",
        f"@receiver(post_save, sender={first})",
        "def on_save(sender, instance, **kwargs):",
        "    return instance.pk",
        "",
    ]
    for peer in peers:
        receivers += [
            "",
            f"@receiver(changed{peer:03d})",
            f"def on_changed_{peer:03d}(sender, thing, **kwargs):",
            f"    {first}.objects.filter(name=thing.name).update(amount=0)",
            "",
        ]
    files["receivers.py"] = "\n".join(receivers) + "\n"
    joins = " ".join(f"JOIN legacy_{app_name(p)}_0 p{p} ON p{p}.id = t.id" for p in peers)
    files["queries.py"] = (
        "from django.db import connection\n\n"
        f"from shopgen.{label}.models import {first}\n\n\n"
        "def totals():\n    with connection.cursor() as cursor:\n"
        f'        cursor.execute("SELECT t.name, SUM(t.amount) FROM legacy_{label}_0 t {joins} GROUP BY t.name")\n'
        "        return cursor.fetchall()\n\n\n"
        f'def raw_things():\n    return list({first}.objects.raw("SELECT * FROM legacy_{label}_0 WHERE amount > 0"))\n'
    )
    views = [
        "from django.http import JsonResponse",
        "from django.views import View",
        "from django.views.decorators.http import require_POST",
        "",
        f"from shopgen.{label} import services",
        f"from shopgen.{label}.models import {first}",
        "",
    ]
    urls = [
        "from django.urls import path, re_path",
        "",
        "from . import views",
        "",
        f"app_name = '{label}'",
        "",
        "urlpatterns = [",
    ]
    for index in range(MODELS_PER_APP):
        views += [
            "",
            f"def list_{index}(request):",
            f"    return JsonResponse({{'items': [str(t) for t in services.list_{index}(request.GET.get('q', ''))]}})",
            "",
            "",
            "@require_POST",
            f"def create_{index}(request):",
            f"    thing = services.create_{index}(request.POST['name'], request.POST.get('amount', 0))",
            "    return JsonResponse({'id': thing.pk}, status=201)",
            "",
        ]
        urls += [
            f"    path('things{index}/', views.list_{index}, name='list-{index}'),",
            f"    path('things{index}/new/', views.create_{index}, name='create-{index}'),",
        ]
    views += [
        "",
        "class Detail(View):",
        "    def get(self, request, pk):",
        f"        return JsonResponse({{'name': str({first}.objects.get(pk=pk))}})",
        "",
    ]
    urls += [
        "    re_path(r'^detail/(?P<pk>[0-9]+)/$', views.Detail.as_view(), name='detail'),",
        "]",
    ]
    files["views.py"] = "\n".join(views) + "\n"
    files["urls.py"] = "\n".join(urls) + "\n"
    return files


def project_files(apps: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    files: dict[str, str] = {
        "manage.py": "import os\nimport sys\n\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shopgen.settings')\n    from django.core.management import execute_from_command_line\n\n    execute_from_command_line(sys.argv)\n",
        "shopgen/__init__.py": "",
        "shopgen/celery.py": "from celery import Celery\n\napp = Celery('shopgen')\napp.config_from_object('django.conf:settings', namespace='CELERY')\napp.autodiscover_tasks()\n",
    }
    installed = []
    for index in range(apps):
        entry = f"shopgen.{app_name(index)}"
        installed.append(f"{entry}.apps.App{index:03d}Config" if index % 3 == 0 else entry)
    files["shopgen/settings.py"] = (
        "SECRET_KEY = 'generated'\nDEBUG = False\n"
        "INSTALLED_APPS = [\n    'django.contrib.admin',\n    'django.contrib.auth',\n    'django.contrib.contenttypes',\n    'django.contrib.sessions',\n"
        + "".join(f"    '{e}',\n" for e in installed)
        + "]\nAUTH_USER_MODEL = 'app000.Member'\nROOT_URLCONF = 'shopgen.urls'\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n"
    )
    files["shopgen/urls.py"] = (
        "from django.urls import include, path\n\nurlpatterns = [\n"
        + "".join(
            f"    path('{app_name(i)}/', include('shopgen.{app_name(i)}.urls', namespace='{app_name(i)}')),\n"
            for i in range(apps)
        )
        + "]\n"
    )
    for index in range(apps):
        earlier = list(range(index))
        peers = sorted(rng.sample(earlier, min(3, len(earlier))))
        base = f"shopgen/{app_name(index)}/"
        files[base + "models.py"] = models_py(index, peers, rng)
        files[base + "services.py"] = services_py(index, peers, rng)
        for name, text in small_files(index, peers).items():
            files[base + name] = text
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.apps < 1:
        sys.exit("generate_django_project: --apps must be at least 1")
    if args.out.exists() and any(args.out.iterdir()):
        print(
            f"generate_django_project: {args.out} exists and is not empty; pass a new folder",
            file=sys.stderr,
        )
        sys.exit(2)
    files = project_files(args.apps, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".generating-", dir=args.out.parent))
    try:
        for rel, text in files.items():
            compile(text, rel, "exec")  # the output must be valid Python
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if args.out.exists():
            args.out.rmdir()
        staging.rename(args.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    lines = sum(text.count("\n") for text in files.values())
    print(
        f"generate_django_project: {args.apps} apps, {len(files)} files, {lines:,} lines in {args.out}"
    )


if __name__ == "__main__":
    main()
