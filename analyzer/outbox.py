"""`figkit check`'s outbox rule: writes that an outbox fed by the ORM's signals never sees.

A transactional outbox that captures changes from post_save, post_delete and m2m_changed (the
kit's data seam, `extracted/seam/capture.py`) misses every write that sends no signal:
`QuerySet.update()`, `bulk_create()`, `bulk_update()` (and their async forms), raw SQL that
changes a table, and the UPDATE Django runs for `on_delete=SET_NULL`, `SET_DEFAULT` or `SET()`
when the target row is deleted. For the models named in `[outbox]`, each such write in the
analysed code is a finding with its file:line, unless an `[[outbox.allow]]` entry accepts it.

    [outbox]
    models = ["catalog.Product", "catalog.Brand"]   # and/or
    apps = ["catalog"]                              # every model of these apps
    [[outbox.allow]]
    function = "shop.seeding.*"     # glob on the function's dotted name, and/or
    file = "seeding/*.py"           # glob on the path as printed
    kinds = ["bulk_create"]         # update | bulk_create | bulk_update | raw_sql | on_delete
    models = ["catalog.Product"]    # leave out kinds or models to accept every one
    reason = "the first load; the backfill snapshot covers it"

Read from analysis.json alone (orm_write evidence carries the method, raw_sql evidence whether
the statement writes the table, fk evidence its on_delete), so it is a pure function of the
analysis. A model that inherits (multi-table) from a guarded one is guarded too: its writes
change the parent's table.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from analyzer.errors import AnalyzerError

Kind = Literal["update", "bulk_create", "bulk_update", "raw_sql", "on_delete"]
# ORM methods that write rows without a signal, by the kind an allow entry names them with.
BYPASSING_METHODS: dict[str, Kind] = {
    "update": "update",
    "aupdate": "update",
    "bulk_create": "bulk_create",
    "abulk_create": "bulk_create",
    "bulk_update": "bulk_update",
    "abulk_update": "bulk_update",
}
UPDATING_ON_DELETE = frozenset({"SET_NULL", "SET_DEFAULT", "SET"})
DEFAULT_PUBLISH = "extracted.seam.outbox.publish"


class OutboxAllow(BaseModel):
    """One accepted bypass: every key given must match."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    function: str | None = None
    file: str | None = None
    kinds: list[Kind] = []
    models: list[str] = []
    reason: str | None = None

    def matches(self, finding: Bypass) -> bool:
        return (
            (self.function is None or fnmatchcase(finding.function or "", self.function))
            and (self.file is None or fnmatchcase(finding.file, self.file))
            and (not self.kinds or finding.kind in self.kinds)
            and (not self.models or finding.model in self.models)
        )

    def describe(self) -> str:
        given = {k: v for k, v in self.model_dump(exclude={"reason"}).items() if v}
        return ", ".join(f"{k}={v}" for k, v in given.items())


class OutboxRule(BaseModel):
    """The `[outbox]` table: the models whose writes must go through save() and delete()."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    models: list[str] = []
    apps: list[str] = []
    publish: str = DEFAULT_PUBLISH  # named in each finding's advice
    allow: list[OutboxAllow] = []


def outbox_rule_from(config: dict[str, Any], where: str = "the figkit config") -> OutboxRule | None:
    """The `[outbox]` table of the settings, or None when there is none."""
    table = config.get("outbox")
    if table is None:
        return None
    example = 'e.g. models = ["shop.Product"] or apps = ["shop"]'
    if not isinstance(table, dict):
        raise AnalyzerError(f"{where}: outbox is a table, {_table(where)} with {example}")
    try:
        rule = OutboxRule.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        at = " ".join(f"#{p + 1}" if isinstance(p, int) else str(p) for p in error["loc"])
        raise AnalyzerError(f"{where}: {_table(where)} {at}: {error['msg']}") from None
    if not rule.models and not rule.apps:
        raise AnalyzerError(f"{where}: {_table(where)} names no models; {example}")
    for i, entry in enumerate(rule.allow):
        if entry.function is None and entry.file is None and not entry.models:
            raise AnalyzerError(
                f"{where}: {_table(where)} allow #{i + 1} accepts every write; give function, file "
                "or models"
            )
    return rule


def _table(where: str) -> str:
    """The table as the user writes it in that file."""
    return "[tool.figkit.outbox]" if where.endswith("pyproject.toml") else "[outbox]"


@dataclass(frozen=True)
class Bypass:
    """One write of a guarded model that sends no signal, where the code makes it."""

    file: str
    line: int
    kind: Kind
    model: str  # the guarded model whose rows change
    function: str | None = None
    how: str = ""  # the method (update, abulk_create), or on_delete's value
    table: str | None = None  # raw SQL: the table as written
    relation: str | None = None  # on_delete: the field on the guarded model
    deleted: str | None = None  # on_delete: the model whose deletion runs the update

    def message(self, publish: str = DEFAULT_PUBLISH) -> str:
        where = f"in {self.function}" if self.function else "at module level"
        if self.kind == "on_delete":
            return (
                f"{self.file}:{self.line}: {self.model}.{self.relation} on_delete={self.how}: "
                f"deleting a {self.deleted} updates {self.model} rows without a signal, which "
                "bypasses the outbox: use PROTECT or CASCADE, or call "
                f"{publish}() for those rows from {self.deleted}'s delete receivers"
            )
        what = (
            f"raw SQL writing {self.table} ({self.model})"
            if self.kind == "raw_sql"
            else f"{self.model} {self.how}()"
        )
        return (
            f"{self.file}:{self.line}: {what} {where} bypasses the outbox: save through the "
            f"model, or call {publish}() in the same transaction"
        )

    def as_json(self, publish: str = DEFAULT_PUBLISH) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        return {**out, "message": self.message(publish)}


@dataclass
class OutboxResult:
    rule: OutboxRule
    guarded: list[str]
    bypasses: list[Bypass] = field(default_factory=list)
    allowed: list[Bypass] = field(default_factory=list)
    unused_allows: list[int] = field(default_factory=list)  # indices into rule.allow

    @property
    def ok(self) -> bool:
        return not self.bypasses


def guarded_models(document: dict[str, Any], rule: OutboxRule, where: str) -> list[str]:
    """The labels the rule names, checked against the analysis, with their multi-table
    children (whose writes change the guarded table too)."""
    models = [m for m in document.get("models", []) if not m.get("abstract")]
    labels = {m["label"].lower(): m["label"] for m in models}
    guarded: set[str] = set()
    for name in rule.models:
        guarded.add(_known_label(name, labels, where, "models"))
    apps = {m["app"] for m in models}
    for app in rule.apps:
        if app not in apps:
            close = difflib.get_close_matches(app, sorted(apps), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise AnalyzerError(
                f"{where}: {_table(where)} apps: {app!r} is no app with models in the analysed "
                f"project{hint}"
            )
        guarded.update(m["label"] for m in models if m["app"] == app)
    for i, entry in enumerate(rule.allow):
        for name in entry.models:
            _known_label(name, labels, where, f"allow #{i + 1} models")
    grew = True
    while grew:  # multi-table children, grandchildren ...
        children = {m["label"] for m in models if guarded & set(m.get("parents") or ())}
        grew = not children <= guarded
        guarded |= children
    return sorted(guarded)


def _known_label(name: str, labels: dict[str, str], where: str, key: str) -> str:
    found = labels.get(name.lower())
    if found is None:
        close = difflib.get_close_matches(name, sorted(labels.values()), n=1)
        hint = f"did you mean {close[0]}?" if close else "a model is app_label.ModelName"
        raise AnalyzerError(
            f"{where}: {_table(where)} {key}: {name!r} is no model of the analysed project; {hint}"
        )
    return found


def find_bypasses(edges: Iterable[dict[str, Any]], guarded: set[str]) -> list[Bypass]:
    """Every write of a guarded model that sends no signal, in file and line order."""
    found: set[Bypass] = set()
    for edge in edges:
        kind, evidence = edge["kind"], edge["evidence"]
        if kind == "orm_write" and edge["target"] in guarded:
            for ev in evidence:
                method = ev.get("method")
                if method in BYPASSING_METHODS:
                    found.add(Bypass(ev["file"], ev["line"], BYPASSING_METHODS[method],
                                     edge["target"], ev.get("function"), method))  # fmt: skip
        elif kind == "raw_sql" and edge["target"] in guarded:
            for ev in evidence:
                if ev.get("written"):
                    found.add(Bypass(ev["file"], ev["line"], "raw_sql", edge["target"],
                                     ev.get("function"), "raw SQL", ev.get("table")))  # fmt: skip
        elif kind in ("fk", "o2o") and edge["source"] in guarded:
            for ev in evidence:
                if ev.get("on_delete") in UPDATING_ON_DELETE:
                    found.add(Bypass(ev["file"], ev["line"], "on_delete", edge["source"],
                                     how=ev["on_delete"], relation=ev.get("field"),
                                     deleted=edge["target"]))  # fmt: skip
    return sorted(found, key=lambda b: (b.file, b.line, b.model, b.kind, b.table or ""))


def check_outbox(
    document: dict[str, Any], rule: OutboxRule, where: str = "the figkit config"
) -> OutboxResult:
    """The rule applied to an analysis: what bypasses the outbox, what the allow list accepts,
    and which allow entries accept nothing (fixed code, or a typo)."""
    guarded = guarded_models(document, rule, where)
    result = OutboxResult(rule, guarded)
    used: set[int] = set()
    for bypass in find_bypasses(document.get("edges", []), set(guarded)):
        accepted = [i for i, entry in enumerate(rule.allow) if entry.matches(bypass)]
        used.update(accepted)
        (result.allowed if accepted else result.bypasses).append(bypass)
    result.unused_allows = [i for i in range(len(rule.allow)) if i not in used]
    return result
