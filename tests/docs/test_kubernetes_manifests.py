"""The Kubernetes manifests in docs/kubernetes/ (docs/kubernetes.md), checked offline: every
kustomization is built, every object it yields is validated against Kubernetes' OpenAPI schemas
(the copy kubernetes-validate ships, strict: an unknown field fails), and then held to what a
schema cannot see: that the pieces fit each other and the code they run.

No kustomize comes from Debian here in a version that reads these files (bookworm's
kubernetes-client is kubectl 1.20, whose kustomize predates `patches:` and `labels:`), so
`build()` renders a kustomization itself. It does this much, and refuses anything else in a
kustomization.yaml, so that no manifest can lean on a feature it would skip:
- resources: YAML files (one or more documents) and folders holding a kustomization.yaml;
- patches: strategic-merge patches from a file (`path`; each YAML document one patch), each
  applied to the one object of its kind and name: maps merge key by key, scalar lists are
  replaced, and a list of maps merges item by item only where its merge key is in MERGE_KEYS
  (containers and env by name, volumeMounts by mountPath, ...); another list of maps, or a
  `$patch` directive, is refused;
- namespace: set on every namespaced object;
- labels: pairs added to metadata.labels and, with includeTemplates, to pod templates (and a
  CronJob's job template); includeSelectors is refused;
- images: newName and newTag for every container whose image has that name.
It runs them in kustomize's order (patches, namespace, labels, images). Where a kustomize v5
(`kustomize`, or `kubectl kustomize`) is on the PATH, test_the_renderer_agrees_with_kustomize
compares the two, object by object.
"""

from __future__ import annotations

import ast
import base64
import copy
import functools
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from unittest import mock

import kubernetes_validate
import pytest
import yaml

from strangler_proxy.config import ProxyConfig

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "docs" / "kubernetes"
BUILDS = {"base": MANIFESTS / "base"} | {
    f"overlays/{p.name}": p for p in sorted((MANIFESTS / "overlays").iterdir()) if p.is_dir()
}
# The oldest Kubernetes the manifests are for, and the newest the schemas know (an API removed
# since then fails there).
KUBERNETES = ("1.30.0", kubernetes_validate.latest_version())
RENDERED = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
# Kubernetes' patchMergeKey of the lists a patch may merge.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
# Read by a library, not by figkit's code: libpq, when psycopg connects to the proxy's route
# table (store = "postgresql://" in its proxy.toml; strangler_proxy/store.py).
LIBRARY_ENV = {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"}
ENVIRONS = ("os.environ", "os", "env", "environ")  # what code reads variables from, as written
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it


# --- building -------------------------------------------------------------------------------
def _documents(path: Path) -> list[dict]:
    return [d for d in yaml.load_all(path.read_text(), Loader=LOADER) if d]


def build(folder: Path) -> list[dict]:
    """The objects `kustomize build FOLDER` prints (within the module docstring's limits)."""
    spec = yaml.load((folder / "kustomization.yaml").read_text(), Loader=LOADER)
    assert set(spec) <= RENDERED, f"{folder}: the renderer does not do {set(spec) - RENDERED}"
    objects: list[dict] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        objects += build(path) if path.is_dir() else _documents(path)
    for patch in spec.get("patches", []):
        assert set(patch) == {"path"}, f"{folder}: only `patches: - path: FILE` is rendered"
        for body in _documents(folder / patch["path"]):
            key = (body["kind"], body["metadata"]["name"])
            targets = [o for o in objects if (o["kind"], o["metadata"]["name"]) == key]
            assert len(targets) == 1, f"{folder}/{patch['path']}: no one {key} to patch"
            _merge(targets[0], body, key[0])
    for obj in objects:
        if "namespace" in spec and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = spec["namespace"]
        for entry in spec.get("labels", []):
            assert not entry.get("includeSelectors"), "includeSelectors is not rendered"
            targets = [obj["metadata"]]
            if entry.get("includeTemplates"):
                targets += [template["metadata"] for _, template in _templates(obj)]
                if obj["kind"] == "CronJob":
                    targets.append(obj["spec"]["jobTemplate"].setdefault("metadata", {}))
            for metadata in targets:
                metadata.setdefault("labels", {}).update(entry["pairs"])
        for image in spec.get("images", []):
            for _, template in _templates(obj):
                for container in _containers(template):
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        name, tag = image.get("newName", name), image.get("newTag", tag)
                        container["image"] = f"{name}:{tag}" if tag else name
    return objects


def _merge(into: dict, patch: dict, where: str) -> None:
    for key, value in patch.items():
        assert not key.startswith("$"), f"{where}: {key} directives are not rendered"
        here = f"{where}.{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, here)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            assert key in MERGE_KEYS, f"{here}: the renderer knows no merge key for it"
            merge_key = MERGE_KEYS[key]
            existing = {item[merge_key]: item for item in into.setdefault(key, [])}
            for item in value:
                if item[merge_key] in existing:
                    _merge(existing[item[merge_key]], item, f"{here}[{item[merge_key]}]")
                else:
                    into[key].append(copy.deepcopy(item))
        else:
            into[key] = copy.deepcopy(value)


def _templates(obj: dict) -> Iterator[tuple[dict, dict]]:
    """(workload, pod template) of an object that makes pods."""
    if obj["kind"] in POD_OWNERS:
        yield obj, obj["spec"]["template"]
    elif obj["kind"] == "CronJob":
        yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]


def _containers(template: dict) -> list[dict]:
    return template["spec"].get("initContainers", []) + template["spec"]["containers"]


# --- reading a build ------------------------------------------------------------------------
class Built:
    """One build's objects (only read), and what its containers would see and run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.objects = build(BUILDS[name])

    def find(self, kind: str, name: str) -> dict | None:
        key = (kind, name)
        return next((o for o in self.objects if (o["kind"], o["metadata"]["name"]) == key), None)

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def data(self, kind: str, name: str) -> dict[str, str]:
        """A ConfigMap's or Secret's keys and values, as text ({} if it is not there)."""
        obj = self.find(kind, name) or {}
        data = obj.get("data", {})
        if kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        return data | obj.get("stringData", {})

    def containers(self) -> Iterator[tuple[dict, dict, dict]]:
        """(workload, pod template, container) of every container of every workload."""
        for obj in self.objects:
            for workload, template in _templates(obj):
                for container in _containers(template):
                    yield workload, template, container

    def environment(self, container: dict) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            env |= self.data(kind, (source.get("configMapRef") or source["secretRef"])["name"])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if ref := item.get("valueFrom", {}).get(field):
                    env[item["name"]] = self.data(kind, ref["name"])[ref["key"]]
        return env

    def settings(self, container: dict) -> dict | None:
        """The Django settings the container's process would load; None if it runs no Django."""
        module = django_settings(command(container))
        return module and _settings(module, tuple(sorted(self.environment(container).items())))

    def mounted_file(self, path: str, template: dict, container: dict) -> str:
        """The text a ConfigMap or Secret volume of the container puts at PATH."""
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            relative = os.path.relpath(path, mount["mountPath"])
            volume = volumes[mount["name"]]
            if relative.startswith("..") or not {"configMap", "secret"} & volume.keys():
                continue
            if "configMap" in volume:
                kind, source, name = "ConfigMap", volume["configMap"], volume["configMap"]["name"]
            else:
                kind, source, name = "Secret", volume["secret"], volume["secret"]["secretName"]
            data = self.data(kind, name)
            files = {i["path"]: i["key"] for i in source.get("items", [])} or {k: k for k in data}
            assert relative in files, f"{path}: {kind} {name} at {mount['mountPath']} lacks it"
            return data[files[relative]]
        raise AssertionError(f"{path} is in no ConfigMap or Secret volume of {container['name']}")

    def proxy(self) -> tuple[dict, dict, dict, ProxyConfig]:
        """The one proxy container, with its proxy.toml read by the proxy's own config model."""
        (found,) = [
            c for c in self.containers() if command(c[2])[:3] == ["figkit", "proxy", "serve"]
        ]
        workload, template, container = found
        text = self.mounted_file(_option(command(container), "--config"), template, container)
        return workload, template, container, ProxyConfig.model_validate(tomllib.loads(text))


def command(container: dict) -> list[str]:
    return container.get("command", []) + container.get("args", [])


def _option(words: list[str], name: str) -> str:
    for i, word in enumerate(words):
        if word == name:
            return words[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return ""


def _module_file(module: str) -> Path:
    base = ROOT / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _settings_default(file: Path) -> str:
    """The DJANGO_SETTINGS_MODULE an entry point sets (os.environ.setdefault in FILE)."""
    for node in ast.walk(ast.parse(file.read_text())):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "setdefault"
            and [getattr(a, "value", None) for a in node.args][:1] == ["DJANGO_SETTINGS_MODULE"]
        ):
            return node.args[1].value
    raise AssertionError(f"{file} sets no DJANGO_SETTINGS_MODULE")


def django_settings(words: list[str]) -> str | None:
    """The settings module a command runs Django with, read from its entry point's own file;
    None for the proxy, which is not Django."""
    words = words[2:] if words[:3] == ["python", "-m", "uvicorn"] else words
    assert words[:2] != ["python", "-m"] or not words[2].startswith("extracted."), (
        f"{words}: `python -m extracted.SERVICE` migrates as it starts, and replicas would race "
        "on it: serve with uvicorn and migrate in a Job"
    )
    if words[0] == "figkit":
        return None
    if words[0] == "uvicorn":
        app = next(w for w in words[1:] if not w.startswith("-"))
        return _settings_default(_module_file(app.split(":")[0]))
    if words[0] == "celery":
        app = _option(words, "-A") or _option(words, "--app")
        celery = ROOT / app.replace(".", "/") / "celery.py"
        return _settings_default(celery if celery.exists() else _module_file(app))
    if words[:1] == ["python"] and words[1].endswith("manage.py"):
        return _settings_default(ROOT / words[1])
    raise AssertionError(f"{words}: the test does not know what this runs; teach django_settings")


@functools.cache
def _settings(module: str, env: tuple[tuple[str, str], ...]) -> dict:
    """A settings module's values as a process with exactly ENV reads them."""
    with mock.patch.dict(os.environ, dict(env), clear=True):
        return runpy.run_path(str(_module_file(module)), run_name=module)


def _listens(built: Built, template: dict, container: dict) -> set[tuple[str, int]]:
    """(host, port) a container's program binds: uvicorn's --host and --port (or their
    defaults), or the proxy's listen and admin_listen."""
    words = command(container)
    if "uvicorn" in words:
        return {(_option(words, "--host") or "127.0.0.1", int(_option(words, "--port") or 8000))}
    if words[:3] == ["figkit", "proxy", "serve"]:
        config = built.proxy()[3].proxy
        return {
            (a.rpartition(":")[0], int(a.rpartition(":")[2]))
            for a in (config.listen, config.admin_listen)
        }
    return set()


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _package_folder(app: str) -> Path:
    """The folder of an INSTALLED_APPS entry: its package, or its AppConfig's."""
    while True:
        try:
            spec = find_spec(app)
        except ModuleNotFoundError:  # 'pkg.apps.SomeConfig': `apps` is a module, no package
            spec = None
        if spec is not None and spec.submodule_search_locations:
            return Path(spec.submodule_search_locations[0])
        app = app.rpartition(".")[0]


@functools.cache
def _environment_reads() -> frozenset[str]:
    """Every variable the deployed code reads by name: os.environ.get/[]/setdefault, os.getenv,
    and env.get in the functions handed the environment (extracted/seam/tracing.py)."""
    names = set()
    for package in ("legacy_monolith", "extracted", "strangler_proxy"):
        for file in (ROOT / package).rglob("*.py"):
            source = file.read_text()
            if "migrations" in file.parts or "env" not in source:
                continue
            for node in ast.walk(ast.parse(source)):
                receiver, key = ast.Constant(None), None
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", "") in ("get", "getenv", "setdefault")
                    and node.args
                ):
                    receiver, key = node.func.value, node.args[0]
                elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                    receiver, key = node.value, node.slice
                if isinstance(key, ast.Constant) and ast.unparse(receiver) in ENVIRONS:
                    names.add(key.value)
    return frozenset(names)


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=sorted(BUILDS))
def built(request) -> Built:
    return Built(request.param)


RESOLVE = """
import json, sys, django
from django.urls import Resolver404, resolve
django.setup()
found = {}
for path in sys.argv[1:]:
    try:
        found[path] = bool(resolve(path))
    except Resolver404:
        found[path] = False
print(json.dumps(found))
"""


@pytest.fixture(scope="module", autouse=True)
def resolving() -> Iterator[dict[str, subprocess.Popen | dict[str, bool]]]:
    """For each settings module a server container of any build runs: does its URLconf serve
    /healthz, /readyz and each httpGet probe's path? Asked of Django's own resolver: in this
    process for the settings pytest runs with, else in a process per settings module (a process
    holds one), started before the first check so that they run beside the others."""
    from django.conf import settings
    from django.urls import Resolver404, resolve

    asked: dict[str, tuple[set[str], dict[str, str]]] = {}
    for name in BUILDS:
        one = Built(name)
        for _, _, container in one.containers():
            module = django_settings(command(container))
            if module and container.get("ports"):
                paths, _ = asked.setdefault(module, (set(), one.environment(container)))
                paths |= {"/healthz", "/readyz"}
                paths |= {
                    container[p]["httpGet"]["path"]
                    for p in PROBES
                    if "httpGet" in container.get(p, {})
                }
    answers: dict[str, subprocess.Popen | dict[str, bool]] = {}
    for module, (paths, env) in asked.items():
        if module != settings.SETTINGS_MODULE:
            answers[module] = subprocess.Popen(
                [sys.executable, "-c", RESOLVE, *sorted(paths)],
                cwd=ROOT,
                env={"PATH": os.environ["PATH"], **env, "DJANGO_SETTINGS_MODULE": module},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            continue
        answers[module] = {}
        for path in paths:
            try:
                answers[module][path] = bool(resolve(path))
            except Resolver404:
                answers[module][path] = False
    yield answers
    for answer in answers.values():
        if isinstance(answer, subprocess.Popen) and answer.poll() is None:
            answer.kill()
            answer.wait()


@pytest.fixture(scope="module")
def served(resolving) -> dict[str, dict[str, bool]]:
    found = {}
    for module, answer in resolving.items():
        if isinstance(answer, subprocess.Popen):
            out, err = answer.communicate(timeout=60)
            assert answer.returncode == 0, (
                f"{module}: resolving the probes' paths failed: {err[-800:]}"
            )
            answer = json.loads(out)
        found[module] = answer
    return found


@pytest.fixture(scope="module")
def schemas_read_once() -> Iterator[None]:
    """kubernetes-validate reads and parses a schema and its 1.3 MB of definitions for every
    object it checks: kept once read, the builds' objects take 0.2 s instead of 1 s."""
    utils = kubernetes_validate.utils
    if not hasattr(utils, "schema_contents"):  # a later release: slower, as correct
        yield
        return
    with mock.patch.object(utils, "schema_contents", functools.cache(utils.schema_contents)):
        yield


# --- the checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", KUBERNETES)
def test_every_object_validates_against_the_kubernetes_schema(built, version, schemas_read_once):
    errors = []
    for obj in built.objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(exc.message)
    assert not errors, f"{built.name} against Kubernetes {version}:\n" + "\n".join(errors)


def _kustomize() -> list[str] | None:
    for words in (["kustomize", "build"], ["kubectl", "kustomize"]):
        if shutil.which(words[0]):
            asked = [words[0], "version"] + (["--client"] if words[0] == "kubectl" else [])
            said = subprocess.run(asked, capture_output=True, text=True).stdout
            if re.search(r"(?:Kustomize Version: |^)v?5\.", said, re.M):
                return words
    return None


def test_the_renderer_agrees_with_kustomize(built):
    words = _kustomize()
    if words is None:
        pytest.skip("no kustomize v5 here (kustomize, or kubectl's) to check the renderer with")
    out = subprocess.run(
        [*words, str(BUILDS[built.name])], capture_output=True, text=True, check=True
    )
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.load_all(out.stdout, LOADER) if o}
    ours = {(o["kind"], o["metadata"]["name"]): o for o in built.objects}
    assert sorted(ours) == sorted(theirs)
    for key, obj in ours.items():
        assert obj == theirs[key], f"{built.name}: {key} differs from kustomize's"


def test_every_configmap_and_secret_a_container_reads_is_in_the_build(built):
    missing = []
    for workload, template, container in built.containers():
        refs = [
            (
                "ConfigMap" if "configMapRef" in s else "Secret",
                (s.get("configMapRef") or s["secretRef"])["name"],
                None,
            )
            for s in container.get("envFrom", [])
        ]
        for item in container.get("env", []):
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if ref := item.get("valueFrom", {}).get(field):
                    refs.append((kind, ref["name"], ref["key"]))
        mounted = {m["name"] for m in container.get("volumeMounts", [])}
        for volume in template["spec"].get("volumes", []):
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if field in volume and volume["name"] in mounted:
                    source = volume[field]
                    for item in source.get("items") or [{"key": None}]:
                        refs.append((kind, source.get("name") or source["secretName"], item["key"]))
        for kind, name, key in refs:
            if built.find(kind, name) is None or (key and key not in built.data(kind, name)):
                what = f"{kind} {name}" + (f" key {key}" if key else "")
                missing.append(f"{workload['metadata']['name']}/{container['name']}: {what}")
    assert not missing, f"{built.name}: read but not built: {missing}"


def test_every_service_selects_the_pods_of_one_deployment_on_a_port_they_open(built):
    pods = [(d, d["spec"]["template"]) for d in built.of_kind("Deployment")]
    for service in built.of_kind("Service"):
        what = f"{built.name}: Service {service['metadata']['name']}"
        behind = [
            (d, t)
            for d, t in pods
            if _selects(service["spec"]["selector"], t["metadata"]["labels"])
        ]
        assert len(behind) == 1, f"{what} selects {[d['metadata']['name'] for d, _ in behind]}"
        opened = [p for c in _containers(behind[0][1]) for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in (p.get("name"), p["containerPort"]) for p in opened), (
                f"{what}: port {port['port']} -> {target}, which its pods do not open"
            )


def test_servers_listen_on_all_interfaces_on_exactly_the_ports_they_declare(built):
    for workload, template, container in built.containers():
        what = f"{built.name}: {workload['metadata']['name']}"
        listens = _listens(built, template, container)
        declared = {p["containerPort"] for p in container.get("ports", [])}
        assert {port for _, port in listens} == declared, (
            f"{what} listens on {listens}, declares {declared}"
        )
        assert {host for host, _ in listens} <= {"0.0.0.0"}, (
            f"{what} binds {listens}: other pods can't reach it"
        )


def test_service_urls_name_a_service_its_port_and_a_host_its_pods_allow(built):
    services = {s["metadata"]["name"]: s for s in built.of_kind("Service")}
    urls = [
        (f"{workload['metadata']['name']} {var}", value)
        for workload, _, container in built.containers()
        for var, value in built.environment(container).items()
    ]
    urls += [
        (f"proxy upstream {n}", u) for n, up in built.proxy()[3].upstreams.items() for u in up.urls
    ]
    checked = 0
    for where, url in urls:
        if not (m := re.fullmatch(r"https?://([a-z0-9-]+):(\d+)/?", url)):
            continue
        host, port, what = m[1], int(m[2]), f"{built.name}: {where} = {url}"
        assert host in services, f"{what}: no Service {host}"
        assert port in [p["port"] for p in services[host]["spec"]["ports"]], f"{what}: no such port"
        for _, template, container in built.containers():
            settings = built.settings(container)
            if settings and _selects(
                services[host]["spec"]["selector"], template["metadata"]["labels"]
            ):
                allowed = settings["ALLOWED_HOSTS"]
                assert host in allowed or "*" in allowed, (
                    f"{what}: Django there allows {allowed}: 400"
                )
        checked += 1
    assert checked >= 4, f"{built.name}: only {checked} in-cluster URLs: does this still read them?"


def test_probes_are_paths_the_app_serves_on_its_ports_with_an_allowed_host(built, served):
    for workload, _, container in built.containers():
        what = f"{built.name}: {workload['metadata']['name']}/{container['name']}"
        module = django_settings(command(container))
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        probes = {kind: container[kind] for kind in PROBES if kind in container}
        if ports:
            assert {"livenessProbe", "readinessProbe"} <= probes.keys(), (
                f"{what}: a server needs both probes"
            )
        for kind, probe in probes.items():
            action = probe.get("httpGet") or probe["tcpSocket"]
            assert action["port"] in {*ports, *ports.values()}, (
                f"{what}: {kind} on an unopened port"
            )
            if "httpGet" not in probe:
                continue
            assert module, f"{what}: {kind}: the test knows no URLconf for {action['path']}"
            assert served[module][action["path"]], (
                f"{what}: {kind}: {module} serves no {action['path']}"
            )
            allowed = built.settings(container)["ALLOWED_HOSTS"]
            host = {h["name"]: h["value"] for h in action.get("httpHeaders", [])}.get("Host")
            assert host in allowed or "*" in allowed, (
                f"{what}: {kind} sends Host {host}, Django allows {allowed}: 400"
            )
        if module and ports:  # an app that has the probe endpoints is probed on them
            for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                used = probes[kind].get("httpGet", {}).get("path")
                assert used == path or not served[module][path], (
                    f"{what}: serves {path}, {kind} asks {used}"
                )


def test_django_processes_use_their_own_postgresql_database_and_a_real_broker(built):
    databases: dict[str, set[tuple]] = {}
    for workload, _, container in built.containers():
        settings = built.settings(container)
        if settings is None:
            continue
        module = django_settings(command(container))
        what = f"{built.name}: {workload['metadata']['name']}/{container['name']} ({module})"
        db = settings["DATABASES"]["default"]
        assert db["ENGINE"] == "django.db.backends.postgresql", (
            f"{what}: {db['ENGINE']} {db['NAME']}"
        )
        broker = settings.get("CELERY_BROKER_URL", "")
        assert not broker.startswith("filesystem"), f"{what}: the embedded filesystem broker"
        assert settings["DEBUG"] is False, f"{what}: DEBUG is on"
        databases.setdefault(module, set()).add((db["HOST"], db["PORT"], db["NAME"]))
    assert all(len(found) == 1 for found in databases.values()), (
        f"{built.name}: one settings module, several databases: {databases}"
    )
    names = {next(iter(found))[2] for found in databases.values()}
    assert len(names) == len(databases) == 3, (
        f"{built.name}: services share a database: {databases}"
    )


def test_every_variable_set_is_one_the_code_reads(built):
    read = _environment_reads() | LIBRARY_ENV
    unread = {
        f"{workload['metadata']['name']}: {var}"
        for workload, _, container in built.containers()
        for var in built.environment(container)
        if var not in read
    }
    assert not unread, f"{built.name}: set but never read: {sorted(unread)}"


def test_manage_py_commands_exist_and_only_jobs_migrate(built):
    migrated, run_by_deployments = set(), set()
    for workload, _, container in built.containers():
        words, what = command(container), f"{built.name}: {workload['metadata']['name']}"
        module = django_settings(words)
        if workload["kind"] == "Deployment" and module:
            run_by_deployments.add(module)
        if module and words[1].endswith("manage.py"):
            apps = ["django.core", *built.settings(container)["INSTALLED_APPS"]]
            found = [
                _package_folder(a) / "management" / "commands" / f"{words[2]}.py" for a in apps
            ]
            assert any(f.exists() for f in found), f"{what}: {words[1]} has no command {words[2]}"
            if words[2] == "migrate":
                assert workload["kind"] == "Job", f"{what}: migrates in a {workload['kind']}"
                migrated.add(module)
    assert run_by_deployments <= migrated, (
        f"{built.name}: no migrate Job for {run_by_deployments - migrated}"
    )


def test_the_proxy_replicas_share_a_postgresql_route_table_and_read_their_token(built):
    workload, template, container, config = built.proxy()
    replicas = workload["spec"].get("replicas", 1)
    assert workload["kind"] == "Deployment" and replicas >= 3, (
        f"{built.name}: {replicas} proxy replica(s)"
    )
    assert config.proxy.store.startswith("postgresql://"), (
        f"{built.name}: {config.proxy.store}: a table per replica"
    )
    for token in config.tokens:
        assert token.secret_file, f"{built.name}: token {token.name} is not read from a file"
        secret = built.mounted_file(token.secret_file, template, container)
        assert len(secret.strip()) >= 8, (
            f"{built.name}: token {token.name} under 8 characters: refused"
        )


def test_the_hpa_scales_the_proxy_on_cpu_it_requests_and_the_pdb_guards_its_pods(built):
    proxy = built.proxy()[0]
    (hpa,) = built.of_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", proxy["metadata"]["name"]), (
        f"{built.name}: the HPA scales {target}"
    )
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert all(
        c["resources"]["requests"].get("cpu") for c in _containers(proxy["spec"]["template"])
    ), f"{built.name}: a CPU utilisation target needs a CPU request"
    assert hpa["spec"]["minReplicas"] <= proxy["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    (pdb,) = built.of_kind("PodDisruptionBudget")
    selector = pdb["spec"]["selector"]["matchLabels"]
    guarded = [
        w["metadata"]["name"]
        for w, t, _ in built.containers()
        if _selects(selector, t["metadata"]["labels"])
    ]
    assert guarded == [proxy["metadata"]["name"]], f"{built.name}: the PDB selects {guarded}"


def test_exactly_one_beat_runs(built):
    beats = [
        workload
        for workload, _, container in built.containers()
        if "celery" in (words := command(container)) and ({"beat", "-B", "--beat"} & set(words))
    ]
    assert len(beats) == 1, f"{built.name}: {len(beats)} containers run Celery beat"
    spec = beats[0]["spec"]
    assert beats[0]["kind"] == "Deployment" and spec["replicas"] == 1, (
        f"{built.name}: beat replicas"
    )
    assert spec.get("strategy", {}).get("type") == "Recreate", (
        f"{built.name}: a rolling update runs two beats"
    )
    scaled = [h["spec"]["scaleTargetRef"]["name"] for h in built.of_kind("HorizontalPodAutoscaler")]
    assert beats[0]["metadata"]["name"] not in scaled, f"{built.name}: an HPA scales beat"


def test_every_container_requests_resources_and_runs_as_non_root_from_the_one_image(built):
    images = set()
    for workload, template, container in built.containers():
        what = f"{built.name}: {workload['metadata']['name']}/{container['name']}"
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= resources.get("requests", {}).keys(), f"{what}: requests"
        assert "memory" in resources.get("limits", {}), f"{what}: no memory limit"
        pod, own = template["spec"].get("securityContext", {}), container.get("securityContext", {})
        assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, f"{what}: may run as root"
        assert own.get("allowPrivilegeEscalation") is False, f"{what}: may escalate privileges"
        images.add(container["image"])
    assert len(images) == 1, f"{built.name}: several images {images}"
