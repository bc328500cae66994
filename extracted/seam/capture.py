"""Every change to an aggregate made through the ORM becomes an event, whoever makes it: a view,
the Django admin, a shell, a management command.

For each aggregate of each domain in settings.SEAM, the root model, its subclasses and its
member models get post_save, post_delete and m2m_changed receivers that call
`outbox.publish()`. Django sends post_save after the row is written but outside the save's own
transaction when no atomic block is open, so the seam wraps `save_base` of those models in
`transaction.atomic(savepoint=False)`: the change and its event commit together or not at all
(Django already does this for models with parents).

Deleting a row that a captured model points at with on_delete=SET_NULL, SET_DEFAULT or SET()
changes the captured rows with an UPDATE and no signal; the seam notes them before the delete
and publishes them after it.

Not captured, by design of the ORM: `QuerySet.update()`, `bulk_create()`, `bulk_update()` and
raw SQL. Code that writes an aggregate that way must call `outbox.publish()` itself; `figkit
check` flags it (`[outbox]` in figkit.toml).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import router, transaction
from django.db.models import CASCADE, DO_NOTHING, PROTECT, RESTRICT, Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from extracted.seam.domains import Aggregate
from extracted.seam.ownership import is_applying
from extracted.seam.settings import DomainConfig

# model class -> list of (aggregate, attribute holding the root's key)
_WATCHED: dict[type[Model], list[tuple[Aggregate, str]]] = {}


def connect(domains: Iterable[DomainConfig]) -> None:
    for config in domains:
        for aggregate in config.spec.aggregates:
            root = apps.get_model(aggregate.root)
            watched = {
                root: "pk",
                **{apps.get_model(label): attr for label, attr in aggregate.members.items()},
            }
            for model in list(watched):
                for sub in _subclasses(model):
                    watched.setdefault(sub, "pk")
            for model, attr in watched.items():
                _connect_fixups(model, aggregate, attr)
                _WATCHED.setdefault(model, []).append((aggregate, attr))
                uid = f"seam:{aggregate.name}:{model._meta.label}"
                if model._meta.auto_created:
                    m2m_changed.connect(_on_m2m, sender=model, dispatch_uid=uid)
                else:
                    post_save.connect(_on_save, sender=model, dispatch_uid=uid)
                    post_delete.connect(_on_delete, sender=model, dispatch_uid=uid)
                    _make_save_atomic(model)


def _connect_fixups(model: type[Model], aggregate: Aggregate, attr: str) -> None:
    """For each foreign key of a captured model whose on_delete sets it (SET_NULL, SET_DEFAULT,
    SET()), publish the rows it changed when the row it pointed at is deleted."""
    for field in model._meta.concrete_fields:
        remote = getattr(field, "remote_field", None)
        if (
            remote is None
            or not field.many_to_one
            or remote.on_delete in (CASCADE, PROTECT, RESTRICT, DO_NOTHING)
        ):
            continue
        target = remote.model
        uid = f"seam-fixup:{aggregate.name}:{model._meta.label}.{field.name}"

        def before(sender, instance, using="default", model=model, field=field, **_):
            if is_applying():
                return
            keys = (
                model._default_manager.using(using)
                .filter(**{field.name: instance.pk})
                .values_list(attr, flat=True)
            )
            instance.__dict__.setdefault("_seam_fixups", []).append((aggregate, list(keys)))

        def after(sender, instance, using="default", **_):
            from extracted.seam.outbox import publish

            for fixed_aggregate, keys in instance.__dict__.pop("_seam_fixups", []):
                for key in sorted(set(keys)):
                    publish(fixed_aggregate, key, using=using)

        pre_delete.connect(before, sender=target, dispatch_uid=f"{uid}:pre", weak=False)
        post_delete.connect(after, sender=target, dispatch_uid=f"{uid}:post", weak=False)


def watched_models() -> dict[type[Model], list[tuple[Aggregate, str]]]:
    return dict(_WATCHED)


def _subclasses(model: type[Model]) -> list[type[Model]]:
    return [
        m
        for m in apps.get_models()
        if m is not model and issubclass(m, model) and not m._meta.abstract
    ]


def _publish_for(sender: type[Model], instance: Model, using: str) -> None:
    if is_applying():
        return
    from extracted.seam.outbox import publish

    for aggregate, attr in _WATCHED.get(sender, ()):
        key = getattr(instance, attr)
        if key is not None:
            publish(aggregate, key, using=using)


def _on_save(
    sender: type[Model], instance: Model, raw: bool = False, using: str = "default", **_: Any
) -> None:
    if raw:  # loaddata: fixtures are not changes
        return
    _publish_for(sender, instance, using)


def _on_delete(sender: type[Model], instance: Model, using: str = "default", **_: Any) -> None:
    _publish_for(sender, instance, using)


def _on_m2m(sender: type[Model], instance: Model, action: str, reverse: bool, model: type[Model],
            pk_set: set | None, using: str = "default", **_: Any) -> None:  # fmt: skip
    if is_applying():
        return
    from extracted.seam.outbox import publish

    for aggregate, attr in _WATCHED.get(sender, ()):
        root = apps.get_model(aggregate.root)
        if isinstance(instance, root):
            if action.startswith("post_"):
                publish(aggregate, instance.pk, using=using)
        elif issubclass(model, root):
            # The reverse side changed (tag.product_set.add(...)): every product named is touched.
            # clear() names none, so the products are looked up before it runs.
            if action == "pre_clear":
                other = next(f.attname for f in sender._meta.concrete_fields
                             if f.is_relation and f.attname != attr)  # fmt: skip
                keys = sender._default_manager.using(using).filter(**{other: instance.pk})
                instance._seam_cleared = list(keys.values_list(attr, flat=True))  # type: ignore[attr-defined]
            elif action.startswith("post_"):
                keys = pk_set if action != "post_clear" else getattr(instance, "_seam_cleared", ())
                for key in sorted(keys or ()):
                    publish(aggregate, key, using=using)


def _make_save_atomic(model: type[Model]) -> None:
    original = model.save_base
    if getattr(original, "_seam_atomic", False):
        return

    @functools.wraps(original)
    def save_base(self: Model, *args: Any, **kwargs: Any) -> Any:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            return original(self, *args, **kwargs)

    save_base._seam_atomic = True  # type: ignore[attr-defined]
    model.save_base = save_base  # type: ignore[method-assign]
