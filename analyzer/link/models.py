"""Models, their tables and their relations, resolved across files.

A class is a model when one of its bases is ``django.db.models.Model``, another model, or an
abstract model of a third-party package (``AbstractUser``, ``MPTTModel`` ...). Relations
declared on abstract bases belong to each concrete child, as in Django, also when the base
comes from a library whose source was read (analyzer/libraries.py): such a base is an
external model, and what the child inherits from it is evidenced at the child's class line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from analyzer.facts import USER_MODEL, Relation, Warning_
from analyzer.link.apps import App, AppLocator
from analyzer.link.index import CodeIndex

LABEL = re.compile(r"[^.\s]+\.[^.\s]+")  # app_label.ModelName, as analysis.json requires
_MODEL_ROOTS = {"django.db.models.Model", "django.db.models.base.Model"}
_NOT_MODEL_SUFFIXES = (
    "Manager", "QuerySet", "Choices", "Field", "Form", "Serializer", "View", "ViewSet",
    "Admin", "Config", "TestCase", "Enum", "Exception", "Error", "Filter", "FilterSet",
    "Metaclass", "Mutation", "Schema", "Table", "Command", "Middleware", "Widget", "Task",
    "FormSet", "Formset",
)  # fmt: skip


def relation_kind(field_class: str) -> str | None:
    last = field_class.rsplit(".", 1)[-1]
    if last.startswith("Generic"):
        return None  # GenericForeignKey / GenericRelation: no table-level target
    if last.endswith("OneToOneField"):
        return "o2o"
    if last.endswith("ManyToManyField"):
        return "m2m"
    if last.endswith("ForeignKey") or last == "ParentalKey":
        return "fk"
    if "TaggableManager" in last:
        return "m2m"
    return None


def external_label(qualname: str) -> str | None:
    """``django.contrib.auth.models.User`` -> ``auth.User``; None when it has no models module."""
    module, _, name = qualname.rpartition(".")
    parts = module.split(".")
    if "models" in parts:
        at = parts.index("models")
        if at > 0:
            return f"{parts[at - 1]}.{name}"
    return None


@dataclass
class Model:
    label: str
    qualname: str
    app: str
    name: str
    table: str | None
    file: str | None
    line: int | None
    abstract: bool = False
    proxy: bool = False
    external: bool = False
    concrete: str | None = None  # for proxies: the model whose table they use
    parents: list[str] = field(default_factory=list)  # multi-table inheritance parents
    relations: list[tuple[Relation, str, str]] = field(
        default_factory=list
    )  # (field, kind, target)
    relation_files: dict[str, str] = field(default_factory=dict)  # field name -> file
    reverse_query: dict[str, str] = field(default_factory=dict)  # join name -> model label
    accessors: dict[str, str] = field(default_factory=dict)  # attribute -> model label


class ModelRegistry:
    def __init__(
        self, index: CodeIndex, apps: list[App], locator: AppLocator, auth_user_model: str | None,
        warnings: list[Warning_],
    ) -> None:  # fmt: skip
        self.index = index
        self.locator = locator
        self.warnings = warnings
        self.user_model = auth_user_model or "auth.User"
        if not LABEL.fullmatch(self.user_model):
            warnings.append(
                Warning_("", f"AUTH_USER_MODEL {self.user_model!r} is not 'app_label.ModelName'; "
                         "auth.User is assumed")
            )  # fmt: skip
            self.user_model = "auth.User"
        self.by_qualname: dict[str, Model] = {}
        self.by_label: dict[str, Model] = {}
        self._lower: dict[str, str] = {}
        self._is_model: dict[str, bool] = {}
        self._apps = {a.label for a in apps}
        for qualname in index.classes:
            if qualname not in index.library_classes and self.is_model(qualname):
                self._add(qualname)
        self._add_library_bases()
        self._inherit()
        for model in list(self.by_label.values()):
            if not model.external:
                self._resolve_relations(model)
        self._reverse()

    # -- which classes are models ----------------------------------------------------------
    def is_model(self, qualname: str, depth: int = 0) -> bool:
        known = self._is_model.get(qualname)
        if known is not None:
            return known
        self._is_model[qualname] = False  # guards against cycles
        cls = self.index.classes.get(qualname)
        result = False
        if cls is not None and depth < 20:
            for base in cls.bases:
                if not base.startswith("q:"):
                    continue
                resolved = self.index.resolve(base[2:])
                if resolved in self.index.classes:
                    result = self.is_model(resolved, depth + 1)
                else:
                    result = external_model_base(resolved)
                if result:
                    break
            unknown = [
                name
                for b in cls.bases
                if b.startswith("q:") and self._third_party(name := self.index.resolve(b[2:]))
            ]
            if not result and unknown and _declares_a_model(cls):
                # `class AbstractCategory(MP_Node)`: a library base not known to be a model,
                # under a class that says it is one (Meta.db_table or app_label, relations)
                result = True
                module = self.index.modules.get(self.index.class_module.get(qualname, ""))
                package = unknown[0].split(".", 1)[0]
                self.warnings.append(Warning_(
                    module.path if module else "",
                    f"{cls.name} declares model options on base {unknown[0]}, read as an abstract "
                    f"model whose fields are unknown; pass --site-packages DIR of an environment "
                    f"that has {package}", cls.line,
                ))  # fmt: skip
        self._is_model[qualname] = result
        return result

    def _third_party(self, qualname: str) -> bool:
        """A class from outside the analysed tree and outside Python and Django themselves."""
        top, last = qualname.split(".", 1)[0], qualname.rsplit(".", 1)[-1]
        return (
            qualname not in self.index.classes
            and "." in qualname
            and top not in ("django", "builtins", "typing", "abc", "enum")
            and not last.endswith(_NOT_MODEL_SUFFIXES)
        )

    def _add_library_bases(self) -> None:
        """Library models that the project's models inherit from, up their chains: abstract
        ones by class only (they are no table), concrete ones as external models."""
        todo = list(self.by_qualname.values())
        while todo:
            model = todo.pop()
            for base in self.index.classes[model.qualname].bases:
                name = self.index.resolve(base[2:]) if base.startswith("q:") else ""
                if name not in self.index.library_classes or name in self.by_qualname:
                    continue
                if not self.is_model(name):
                    continue
                cls = self.index.classes[name]
                module = self.index.class_module[name]
                label = cls.meta.get("app_label")
                if not isinstance(label, str):
                    label = module.split(".models")[0].rpartition(".")[2] or module
                if cls.meta.get("abstract") is True:
                    found = Model(f"{label}.{cls.name}", name, label, cls.name, None, None, None,
                                  abstract=True, external=True)  # fmt: skip
                else:
                    found = self.external(f"{label}.{cls.name}")
                self.by_qualname[name] = found
                todo.append(found)

    def _add(self, qualname: str) -> None:
        cls = self.index.classes[qualname]
        module = self.index.class_module[qualname]
        facts = self.index.facts_of_class(qualname)
        app_label = cls.meta.get("app_label")
        if isinstance(app_label, str) and not LABEL.fullmatch(f"{app_label}.{cls.name}"):
            self.warnings.append(
                Warning_(facts.path, f"model {cls.name} has app_label {app_label!r}, which is "
                         "no app label; the app of its module is used", cls.line)
            )  # fmt: skip
            app_label = None
        if not isinstance(app_label, str):
            app = self.locator.app_of(module)
            if app is not None:
                app_label = app.label
            else:
                app_label = module.split(".models")[0].rpartition(".")[2] or module
                if not cls.meta.get("abstract") and cls.function is None:
                    self.warnings.append(
                        Warning_(
                            facts.path,
                            f"model {cls.name} is outside every installed app; "
                            f"labelled {app_label}.{cls.name}",
                            cls.line,
                        )  # fmt: skip
                    )
        if not LABEL.fullmatch(f"{app_label}.{cls.name}"):  # an AppConfig.label with a dot
            app_label = re.sub(r"[.\s]+", "_", app_label) or "_"
        abstract = cls.meta.get("abstract") is True
        proxy = cls.meta.get("proxy") is True
        label = f"{app_label}.{cls.name}"
        if label in self.by_label and not abstract:
            other = self.by_label[label]
            if not other.abstract:
                self.warnings.append(
                    Warning_(
                        facts.path,
                        f"model {label} is defined twice (also in {other.file}); "
                        "the first one is kept",
                        cls.line,
                    )  # fmt: skip
                )
                self.by_qualname[qualname] = other
                return
        table = cls.meta.get("db_table")
        model = Model(
            label=label, qualname=qualname, app=app_label, name=cls.name,
            table=table if isinstance(table, str) else None, file=facts.path, line=cls.line,
            abstract=abstract, proxy=proxy,
        )  # fmt: skip
        self.by_qualname[qualname] = model
        if not abstract or label not in self.by_label:
            self.by_label[label] = model
            self._lower[label.lower()] = label

    def external(self, label: str) -> Model:
        """A model of an app outside the tree (auth.User), created on first reference."""
        known = self.lookup_label(label)
        if known is not None:
            return known
        app, _, name = label.partition(".")
        model = Model(label, label, app, name, f"{app}_{name.lower()}", None, None, external=True)
        self.by_label[label] = model
        self._lower[label.lower()] = label
        return model

    def lookup_label(self, label: str) -> Model | None:
        found = self._lower.get(label.lower())
        return self.by_label[found] if found else None

    # -- inheritance ---------------------------------------------------------------------------
    def _model_bases(self, model: Model) -> list[Model]:
        cls = self.index.classes[model.qualname]
        out = []
        for base in cls.bases:
            if base.startswith("q:"):
                found = self.by_qualname.get(self.index.resolve(base[2:]))
                if found is not None and found is not model:
                    out.append(found)
        return out

    def _inherit(self) -> None:
        for model in self.by_qualname.values():
            if model.abstract or model.external:
                continue
            bases = self._model_bases(model)
            if model.proxy:
                concrete = self._concrete(model)
                model.concrete = concrete.label if concrete is not model else None
                model.table = concrete.table if concrete is not model else model.table
            else:
                model.parents = [b.label for b in bases if not b.abstract and not b.proxy]
            if model.table is None and not model.proxy:
                model.table = f"{model.app}_{model.name.lower()}"

    def _concrete(self, model: Model, depth: int = 0) -> Model:
        for base in self._model_bases(model):
            if not base.abstract and depth < 10:
                if base.table is None and not base.proxy:
                    base.table = f"{base.app}_{base.name.lower()}"
                return self._concrete(base, depth + 1) if base.proxy else base
        return model

    def _own_and_abstract_relations(
        self, model: Model, depth: int = 0, child: tuple[str, int] | None = None
    ) -> list[tuple[Relation, str]]:
        """Relations of a model and of its abstract ancestors, with the file of each. What a
        library's base declares is placed at ``child``, the project class inheriting it."""
        cls = self.index.classes[model.qualname]
        if child is not None:
            file, line = child
            relations = [(replace(r, line=line), file) for r in cls.relations]
        else:
            relations = [(r, model.file or "") for r in cls.relations]
        if depth > 10:
            return relations
        for base in cls.bases:
            known = _KNOWN_BASE_RELATIONS.get(self.index.resolve(base[2:]), ())
            for name, field_class, target in known:
                relations.append((Relation(name, field_class, target, cls.line), model.file or ""))
        here = child or (model.file or "", cls.line)
        for parent in self._model_bases(model):
            if parent.abstract:
                inherit_at = here if parent.external else child
                relations.extend(self._own_and_abstract_relations(parent, depth + 1, inherit_at))
        return relations

    # -- relations -----------------------------------------------------------------------------
    def target_label(self, ref: str | None, owner: Model) -> str | None:
        """The label a relation or ORM reference points at, seen from ``owner``'s app."""
        if ref is None:
            return None
        if ref == USER_MODEL:
            return self.external(self.user_model).label
        if ref.startswith("s:"):
            text = ref[2:]
            if text == "self":
                return owner.label
            if "." not in text:
                text = f"{owner.app}.{text}"
            if not LABEL.fullmatch(text):
                return None  # not "app_label.ModelName": Django would refuse it too
            found = self.lookup_label(text)
            return found.label if found else self.external(text).label
        if ref.startswith("q:"):
            qualname = self.index.resolve(ref[2:])
            found = self.by_qualname.get(qualname)
            if found is not None:
                return found.label
            label = external_label(qualname)
            if label is not None and self._outside_project(qualname):
                return self.external(label).label
        return None

    def model_for_ref(self, ref: str) -> Model | None:
        """The model an ORM root names (a class reference, a string, or the user model)."""
        if ref == USER_MODEL:
            return self.external(self.user_model)
        if ref.startswith("s:"):
            return self.lookup_label(ref[2:])
        if ref.startswith("q:"):
            qualname = self.index.resolve(ref[2:])
            found = self.by_qualname.get(qualname)
            if found is not None:
                return found
            label = external_label(qualname)
            if (
                label is not None
                and self._outside_project(qualname)
                and external_model_base(qualname)
            ):
                return self.external(label)
        return None

    def _outside_project(self, qualname: str) -> bool:
        return qualname not in self.index.classes or qualname in self.index.library_classes

    def _resolve_relations(self, model: Model) -> None:
        if model.abstract:
            return
        seen: set[str] = set()
        for relation, file in self._own_and_abstract_relations(model):
            kind = relation_kind(relation.field_class)
            if kind is None or relation.name in seen:
                continue  # a field of the model hides the same name on its bases
            seen.add(relation.name)
            target = self.target_label(relation.target, model)
            if "TaggableManager" in relation.field_class and relation.through:
                target = self._tag_target(relation.through, model) or target
            if target is None:
                self.warnings.append(
                    Warning_(
                        file,
                        f"{model.label}.{relation.name} points at a model that cannot "
                        "be resolved statically",
                        relation.line,
                    )  # fmt: skip
                )
                continue
            model.relations.append((relation, kind, target))
            model.relation_files[relation.name] = file

    def _tag_target(self, through: str, owner: Model) -> str | None:
        """The tag model of a taggit manager: what its through model's ``tag`` key points at."""
        label = self.target_label(through, owner)
        through_model = self.by_label.get(label) if label else None
        if through_model is None or through_model.external:
            return None
        for relation, _ in self._own_and_abstract_relations(through_model):
            if relation.name == "tag":
                return self.target_label(relation.target, through_model)
        return None

    def _reverse(self) -> None:
        for model in list(self.by_label.values()):
            for relation, kind, target_label in model.relations:
                target = self.by_label.get(target_label)
                if target is None:
                    continue
                model.accessors[relation.name] = target_label
                related = relation.related_name
                if related is not None and related.endswith("+"):
                    continue
                if related:
                    related = related.replace("%(class)s", model.name.lower()).replace(
                        "%(app_label)s", model.app.lower()
                    )
                query = relation.related_query_name or related or model.name.lower()
                target.reverse_query.setdefault(query, model.label)
                accessor = related or (
                    model.name.lower() if kind == "o2o" else f"{model.name.lower()}_set"
                )
                target.accessors.setdefault(accessor, model.label)
            for parent in model.parents:
                target = self.by_label.get(parent)
                if target is not None:
                    model.accessors.setdefault(f"{parent.split('.')[1].lower()}_ptr", parent)
                    target.reverse_query.setdefault(model.name.lower(), model.label)
                    target.accessors.setdefault(model.name.lower(), model.label)

    def concrete_label(self, label: str) -> str:
        model = self.by_label.get(label)
        return model.concrete if model is not None and model.concrete else label

    def _relation_named(self, model: Model, name: str, depth: int = 0) -> str | None:
        """Target of a forward relation on the model or, through MTI, on a parent."""
        for relation, _, target in model.relations:
            if relation.name == name:
                return target
        if depth < 10:
            for parent in model.parents:
                found = self.by_label.get(parent)
                if found is not None:
                    inherited = self._relation_named(found, name, depth + 1)
                    if inherited is not None:
                        return inherited
        return None

    def follow(self, model: Model, path: str) -> list[tuple[str, str]]:
        """Joins a lookup makes from ``model``: [(from label, to label)] per hop.

        ``+a__b`` (select_related and friends) joins every hop; a filter keyword ``a__b=x``
        compares the last forward key by its column and so does not join it.
        """
        walk_all = path.startswith("+")
        parts = path.lstrip("+").split("__")
        hops: list[tuple[str, str, bool]] = []
        current = model
        for part in parts:
            forward = True
            target_label = self._relation_named(current, part)
            if target_label is None:
                target_label = current.reverse_query.get(part)
                forward = False
            if target_label is None:
                ptrs = [p for p in current.parents if f"{p.split('.')[1].lower()}_ptr" == part]
                target_label = ptrs[0] if ptrs else None
            if target_label is None:
                break
            hops.append((current.label, target_label, forward))
            nxt = self.by_label.get(target_label)
            if nxt is None or nxt.external:
                break
            current = nxt
        if hops and not walk_all and len(hops) == len(parts) and hops[-1][2]:
            hops.pop()  # filter(buyer=member) compares buyer_id: no join
        return [(a, b) for a, b, _ in hops]

    def related_model(self, model: Model, path: tuple[str, ...]) -> Model | None:
        """The model at the end of attribute ``path`` from an instance: order.lines -> OrderLine."""
        current: Model | None = model
        for attribute in path:
            if current is None:
                return None
            label = current.accessors.get(attribute)
            current = self.by_label.get(label) if label else None
        return current


def _declares_a_model(cls) -> bool:
    """Only a model says these: Meta.db_table or app_label, or relation fields (GraphQL types
    and serializers have a Meta with `abstract` too)."""
    return bool(cls.relations) or any(k in cls.meta for k in ("db_table", "app_label"))


def external_model_base(qualname: str) -> bool:
    """Whether a base class from outside the tree is a Django model (``AbstractUser``,
    ``MPTTModel``). Model classes live in a ``models`` module; pydantic's ``BaseModel`` and
    friends do not, which keeps API schemas out of the model list."""
    if qualname in _MODEL_ROOTS or qualname in _KNOWN_MODEL_BASES:
        return True
    if qualname.startswith("django.db.models.") or not qualname:
        return False
    if qualname.startswith("django.") and not qualname.startswith("django.contrib."):
        return False  # django.forms.models.BaseModelFormSet is a form set, not a model
    last = qualname.rsplit(".", 1)[-1]
    if last.endswith(_NOT_MODEL_SUFFIXES) or not last[:1].isupper():
        return False
    module = qualname.rpartition(".")[0]
    return ".models" in f".{module}"


_KNOWN_MODEL_BASES = {"django.contrib.auth.base_user.AbstractBaseUser"}
# Relations that Django's own abstract models give every subclass; the tree cannot show them.
_PERMISSION_RELATIONS = (
    ("groups", "django.db.models.ManyToManyField", "s:auth.Group"),
    ("user_permissions", "django.db.models.ManyToManyField", "s:auth.Permission"),
)
_KNOWN_BASE_RELATIONS = {
    "django.contrib.auth.models.AbstractUser": _PERMISSION_RELATIONS,
    "django.contrib.auth.models.PermissionsMixin": _PERMISSION_RELATIONS,
}
