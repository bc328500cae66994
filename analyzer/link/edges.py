"""Edges of every kind, each with its evidence: imports, relations, ORM reads and writes,
joins, signals, atomic blocks, raw SQL and Celery tasks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from analyzer.extract.beat import BEAT_SEND
from analyzer.extract.orm import WRITES
from analyzer.facts import FileFacts, OrmCall
from analyzer.link.apps import AppLocator
from analyzer.link.index import CodeIndex
from analyzer.link.models import Model, ModelRegistry

ATOMIC = {"django.db.transaction.atomic"}
_TASK_CALLS = ("delay", "apply_async", "s", "si", "signature", "map", "starmap", "chunks")
_INSTANCE_METHODS = {"save", "delete", "asave", "adelete", "refresh_from_db", "arefresh_from_db"}
_RELATED_ONLY = {"add", "remove", "clear", "set"}
_MAX_CALL_DEPTH = 4
# Signals every model sends: a receiver connected with no sender hears all of them.
_MODEL_SIGNALS = {
    f"django.db.models.signals.{name}"
    for name in ("pre_init", "post_init", "pre_save", "post_save", "pre_delete", "post_delete",
                 "m2m_changed")
}  # fmt: skip


class EdgeSet:
    """Edges keyed by (source, target, kind); evidence accumulates, weight counts it."""

    def __init__(self) -> None:
        self._evidence: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
        self._seen: set[tuple[str, str, str, str, int]] = set()

    def add(
        self, source: str, target: str, kind: str, file: str, line: int, **extra: object
    ) -> None:
        key = (source, target, kind)
        mark = (*key, file, line)
        if mark in self._seen:
            return
        self._seen.add(mark)
        evidence: dict[str, object] = {"file": file, "line": line}
        evidence.update({k: v for k, v in extra.items() if v is not None})
        self._evidence[key].append(evidence)

    def __iter__(self) -> Iterator[tuple[str, str, str, list[dict[str, object]]]]:
        for (source, target, kind), evidence in self._evidence.items():
            yield source, target, kind, evidence


class EdgeBuilder:
    def __init__(self, index: CodeIndex, models: ModelRegistry, locator: AppLocator) -> None:
        self.index = index
        self.models = models
        self.locator = locator
        self.edges = EdgeSet()
        self._atomic_cache: dict[str, bool] = {}
        self._writes_by_function: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        self._calls_by_function: dict[str, list[str]] = defaultdict(list)
        self.tasks: dict[str, str] = {}  # task function qualname -> module
        self.task_names: dict[str, str] = {}  # celery task name -> function qualname
        self._signal_modules: dict[str, str] | None = None  # signal qualname -> defining module

    def build(self) -> EdgeSet:
        for facts in self.index.files:
            for function in facts.functions:
                if function.task_name:
                    self.tasks[function.qualname] = facts.module
                    self.task_names[function.task_name] = function.qualname
        for model in self.models.by_label.values():
            self._relations(model)
        for facts in self.index.files:
            self._imports(facts)
            self._orm(facts)
            self._raw_sql(facts)
            self._signals(facts)
            self._tasks(facts)
        for facts in self.index.files:
            self._atomic(facts)
        return self.edges

    # -- structure -------------------------------------------------------------------------
    def _imports(self, facts: FileFacts) -> None:
        for imported in facts.imports:
            target = imported.target
            if target not in self.index.modules:
                target = target.rpartition(".")[0]
                if not target or target not in self.index.modules:
                    continue
            if target != facts.module:
                self.edges.add(facts.module, target, "import", facts.path, imported.line)

    def _relations(self, model: Model) -> None:
        for relation, kind, target in model.relations:
            file = model.relation_files.get(relation.name, model.file or "")
            self.edges.add(model.label, target, kind, file, relation.line, field=relation.name,
                           on_delete=relation.on_delete)  # fmt: skip
        for parent in model.parents:
            self.edges.add(model.label, parent, "o2o", model.file or "", model.line or 0,
                           field=f"{parent.split('.')[1].lower()}_ptr")  # fmt: skip

    # -- ORM -------------------------------------------------------------------------------
    def orm_target(self, call: OrmCall) -> tuple[Model, bool] | None:
        """The model an ORM call acts on and whether it writes, or None if it is not ORM."""
        root = self.models.model_for_ref(call.model)
        if root is None:
            return None
        target: Model | None = root
        if call.instance:
            if not call.path:
                if not set(call.methods) & _INSTANCE_METHODS:
                    return None
            else:
                target = self.models.related_model(root, call.path)
        elif not call.path or set(call.methods) <= _RELATED_ONLY:
            return None
        if target is None:
            return None
        writes = any(m in WRITES for m in call.methods)
        return target, writes

    def _orm(self, facts: FileFacts) -> None:
        for call in facts.orm:
            found = self.orm_target(call)
            if found is None:
                continue
            model, writes = found
            label = self.models.concrete_label(model.label)
            kind = "orm_write" if writes else "orm_read"
            method = next((m for m in reversed(call.methods) if m in WRITES), None)
            self.edges.add(facts.module, label, kind, facts.path, call.line,
                           function=call.function, method=method)  # fmt: skip
            if writes and call.function:
                self._writes_by_function[call.function].append((label, facts.path, call.line))
            for lookup in call.lookups:
                for source, target in self.models.follow(model, lookup):
                    self.edges.add(
                        self.models.concrete_label(source), self.models.concrete_label(target),
                        "join", facts.path, call.line, lookup=lookup.lstrip("+"),
                    )  # fmt: skip

    def _raw_sql(self, facts: FileFacts) -> None:
        tables = self._tables()
        found = [(s.tables, s.line, s.function, s.written) for s in facts.raw_sql]
        for statement in facts.raw_sql:  # SQL that changes a table is a write of its function
            if statement.function:
                for table in statement.written:
                    if (label := tables.get(table)) is not None:
                        self._writes_by_function[statement.function].append(
                            (label, facts.path, statement.line)
                        )
        for call in facts.calls:  # SQL handed to a helper that executes it
            if call.sql:
                callee = self.index.resolve(call.target[2:])
                sinks = self._sql_sinks().get(callee, ())
                found.extend(
                    (t, call.line, call.function, w) for i, t, _, w in call.sql if i in sinks
                )
        for statement_tables, line, function, written in found:
            for table in statement_tables:
                label = tables.get(table)
                if label is not None:
                    self.edges.add(facts.module, label, "raw_sql", facts.path, line,
                                   function=function, table=table,
                                   written=True if table in written else None)  # fmt: skip

    def _sql_sinks(self) -> dict[str, list[int]]:
        if not hasattr(self, "_sinks"):
            self._sinks = {k: v for f in self.index.files for k, v in f.sql_sinks.items()}
        return self._sinks

    def _tables(self) -> dict[str, str]:
        if not hasattr(self, "_table_map"):
            self._table_map = {
                m.table.lower(): m.label for m in self.models.by_label.values()
                if m.table and not m.proxy and not m.abstract
            }  # fmt: skip
        return self._table_map

    # -- behaviour across apps ---------------------------------------------------------------
    def _signals(self, facts: FileFacts) -> None:
        if self._signal_modules is None:
            self._signal_modules = {
                s.qualname: f.module for f in self.index.files for s in f.signals
            }
        signal_modules = self._signal_modules
        for receiver in facts.receivers:
            for signal_ref in receiver.signals:
                signal = self.index.resolve(signal_ref[2:])
                target = None
                if receiver.sender is not None:
                    sender = self.models.model_for_ref(receiver.sender)
                    if sender is not None:
                        target = self.models.concrete_label(sender.label)
                if target is None and signal in signal_modules:
                    target = signal_modules[signal]
                source = facts.module
                if receiver.receiver:
                    source = self.index.module_of(receiver.receiver) or facts.module
                if target is not None:
                    self.edges.add(source, target, "signal", facts.path, receiver.line,
                                   signal=signal, receiver=receiver.receiver)  # fmt: skip
                elif receiver.sender is None and signal in _MODEL_SIGNALS:
                    # No sender: it runs on every model's save or delete, each one a coupling.
                    for model in self._own_models():
                        self.edges.add(source, model, "signal", facts.path, receiver.line,
                                       signal=signal, receiver=receiver.receiver, sender="*")  # fmt: skip

    def _own_models(self) -> list[str]:
        if not hasattr(self, "_own"):
            self._own = sorted(
                m.label for m in self.models.by_label.values()
                if not (m.external or m.abstract or m.proxy)
            )  # fmt: skip
        return self._own

    def _tasks(self, facts: FileFacts) -> None:
        for call in facts.calls:
            target = self.index.resolve(call.target[2:])
            head, _, method = target.rpartition(".")
            task = None
            if method in _TASK_CALLS and head in self.tasks:
                task = head
            elif method == "send_task" and call.args and call.args[0] in self.task_names:
                task = self.task_names[call.args[0]]
            if task is not None:
                scheduled = True if call.target == BEAT_SEND else None
                self.edges.add(facts.module, self.tasks[task], "task", facts.path, call.line,
                               task=task, scheduled=scheduled)  # fmt: skip
            if call.function:
                self._calls_by_function[call.function].append(target)

    # -- atomic blocks ---------------------------------------------------------------------
    def is_atomic(self, qualname: str, depth: int = 0) -> bool:
        """``transaction.atomic`` itself, or a function that returns it or yields inside it."""
        if qualname in ATOMIC:
            return True
        known = self._atomic_cache.get(qualname)
        if known is not None:
            return known
        self._atomic_cache[qualname] = False
        function = self.index.functions.get(qualname)
        result = False
        if function is not None and depth < 6:
            for returned in function.returns:
                if self.is_atomic(self.index.resolve(returned[2:]), depth + 1):
                    result = True
            if function.yields_in:
                module = self.index.modules[self.index.function_module[qualname]]
                contexts = {b.id: b.context for b in module.blocks}
                for block in function.yields_in:
                    context = contexts.get(block)
                    if context and self.is_atomic(self.index.resolve(context[2:]), depth + 1):
                        result = True
        self._atomic_cache[qualname] = result
        return result

    def _writes_reached(self, function: str, depth: int, seen: set[str]) -> Iterator[str]:
        if function in seen or depth > _MAX_CALL_DEPTH:
            return
        seen.add(function)
        for label, _, _ in self._writes_by_function.get(function, ()):
            yield label
        for callee in self._calls_by_function.get(function, ()):
            if callee in self.index.functions:
                yield from self._writes_reached(callee, depth + 1, seen)

    def _atomic(self, facts: FileFacts) -> None:
        atomic_blocks = {
            b.id: b for b in facts.blocks if self.is_atomic(self.index.resolve(b.context[2:]))
        }
        for block in atomic_blocks.values():
            written: set[str] = set()
            for orm_call in facts.orm:
                if block.id in orm_call.blocks:
                    found = self.orm_target(orm_call)
                    if found is not None and found[1]:
                        written.add(self.models.concrete_label(found[0].label))
            for statement in facts.raw_sql:  # SQL that changes a table inside the block
                if block.id in statement.blocks:
                    written.update(
                        label for t in statement.written if (label := self._tables().get(t))
                    )
            for call in facts.calls:
                if block.id in call.blocks:
                    callee = self.index.resolve(call.target[2:])
                    if callee in self.index.functions:
                        written.update(self._writes_reached(callee, 1, set()))
            for label in sorted(written):
                self.edges.add(facts.module, label, "atomic", facts.path, block.line,
                               function=block.function)  # fmt: skip
        for function in facts.functions:
            if any(
                self.is_atomic(self.index.resolve(d[2:]))
                for d in function.decorators
                if d.startswith("q:")
            ):
                written = set(self._writes_reached(function.qualname, 0, set()))
                for label in sorted(written):
                    self.edges.add(facts.module, label, "atomic", facts.path, function.line,
                                   function=function.qualname)  # fmt: skip
