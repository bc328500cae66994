"""Where the seed meets the database: bulk writes, the shop's tables, deleting them, sequences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Model

BATCH = 2_000
# Tables outside the shop's apps whose rows belong to its users.
POINTING_AT_USERS = {
    "django.contrib.admin": ("admin", "LogEntry"),
    "django.contrib.sessions": ("sessions", "Session"),
}


def shop_models() -> list[type[Model]]:
    """Concrete models of the shop's apps, m2m tables included."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model.__module__.startswith("legacy_monolith.") and not model._meta.proxy
    ]


def shop_has_data() -> bool:
    return any(model._default_manager.exists() for model in shop_models())


def delete_shop_data() -> int:
    """Empty the shop's tables, and those that point at its users (admin log, sessions), in
    one statement per backend (TRUNCATE on PostgreSQL); sequences start again at 1."""
    models = shop_models()
    for app, (app_label, name) in POINTING_AT_USERS.items():
        if apps.is_installed(app):
            models.append(apps.get_model(app_label, name))
    tables = sorted({model._meta.db_table for model in models})
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with foreign-key checks still pending in this transaction.
        connection.check_constraints()
    with connection.cursor() as cursor:
        for sql in connection.ops.sql_flush(no_style(), tables, reset_sequences=True):
            cursor.execute(sql)
    return len(tables)


def reset_sequences(models: list[type[Model]]) -> None:
    """Rows went in with explicit ids; move PostgreSQL's sequences past them (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class RowWriter:
    """Writes built rows in batches and counts them per table.

    Timestamp fields declared auto_now/auto_now_add are switched off while `explicit_timestamps`
    is active, so rows keep the times the builders gave them; a row without one gets `now`.
    """

    def __init__(self, now: datetime, on_rows: Callable[[int], None] | None = None) -> None:
        self.now = now
        self.counts: dict[str, int] = {}
        self.models: list[type[Model]] = []
        self._on_rows = on_rows or (lambda rows: None)
        self._stamped: dict[type[Model], list[str]] = {}

    @contextmanager
    def explicit_timestamps(self) -> Iterator[None]:
        toggled = {}
        for model in shop_models():
            for field in model._meta.concrete_fields:
                if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    toggled.setdefault(field, (field.auto_now, field.auto_now_add))
                    self._stamped.setdefault(model, []).append(field.attname)
        for field in toggled:
            field.auto_now = field.auto_now_add = False
        try:
            yield
        finally:
            for field, (auto_now, auto_now_add) in toggled.items():
                field.auto_now, field.auto_now_add = auto_now, auto_now_add

    def write(self, model: type[Model], rows: list[Model]) -> None:
        for attname in self._stamped.get(model, ()):
            for row in rows:
                if getattr(row, attname) is None:
                    setattr(row, attname, self.now)
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            model._default_manager.bulk_create(batch)
            self._on_rows(len(batch))
        self._count(model, len(rows))

    def write_children(self, model: type[Model], rows: list[Model]) -> None:
        """Multi-table inheritance: bulk_create refuses it, so the parents are written as
        parents and this inserts the child table's own columns."""
        fields = model._meta.local_concrete_fields
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(model._meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
        )
        values = [
            [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)
        self._on_rows(len(rows))
        self._count(model, len(rows))

    def update(self, model: type[Model], rows: list[Model], fields: list[str]) -> None:
        model._default_manager.bulk_update(rows, fields, batch_size=BATCH)

    def _count(self, model: type[Model], rows: int) -> None:
        label = model._meta.label
        if label not in self.counts:
            self.models.append(model)
        self.counts[label] = self.counts.get(label, 0) + rows
