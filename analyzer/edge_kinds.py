"""Every kind of coupling edge, defined once: what it costs to cut, where the cut is counted,
what it becomes in the extraction plan, how the report shows it, and its line in the docs.

The linker, the decomposition, the metrics, the plan, the reports and the schema all read
this table (the schema and report.js are checked against it by tests/analyzer/test_edge_kinds.py),
so a new kind is one new entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EdgeKind:
    name: str
    doc: str  # one line: what the analyzer saw
    weight: float  # default cost of cutting one (docs/analyzer.md#weights)
    why: str  # why that weight
    cut_bucket: str | None = None  # the metrics' cut count this kind adds to
    plan_key: str | None = None  # the list of a plan step that names each cut one
    becomes: str | None = None  # what a cut one becomes in the target architecture
    task: str | None = None  # the checklist line of report.md / report.html for that list
    strong: bool = False  # data-level coupling: drawn strong, counted first in graph files
    shown: bool = True  # on in report.html's first screen
    color: str = "#999999"


# What fk, o2o and m2m share: each is a relation field, cut and planned the same way.
_RELATION: dict[str, Any] = {
    "cut_bucket": "foreign_keys",
    "plan_key": "cut_relations",
    "becomes": "an id column plus an API call or an event",
    "task": "Replace a foreign key by an id plus an API call or event",
    "strong": True,
    "color": "#c0392b",
}

EDGE_KIND_LIST: tuple[EdgeKind, ...] = (
    EdgeKind(
        "import",
        "a module imports another",
        1.0,
        "code moves or is copied; the cheapest to cut",
        shown=False,
        color="#b0b0b0",
    ),
    EdgeKind(
        "fk",
        "a ForeignKey from one model to another",
        5.0,
        "a foreign key becomes an id plus an API call or an event",
        **_RELATION,
    ),
    EdgeKind(
        "o2o",
        "a OneToOneField from one model to another",
        5.0,
        "as a foreign key",
        **_RELATION,
    ),
    EdgeKind(
        "m2m",
        "a ManyToManyField between two models",
        5.0,
        "as a foreign key, plus a link table to own",
        **_RELATION,
    ),
    EdgeKind(
        "orm_read",
        "a module reads a model's table through the ORM",
        3.0,
        "a read of another's table becomes an API call or a replica",
        cut_bucket="reads",
        plan_key="reads_across",
        becomes="an API read, or a replica fed by events",
        task="Read through the owner's API (or a replica fed by its events)",
        color="#2980b9",
    ),
    EdgeKind(
        "orm_write",
        "a module writes a model's table through the ORM",
        6.0,
        "writing another's table: ownership must move",
        cut_bucket="writes",
        plan_key="writes_across",
        becomes="a command to the owning service",
        task="Send a command instead of writing another's table",
        strong=True,
        color="#8e44ad",
    ),
    EdgeKind(
        "join",
        "a query joins across models (lookups, select_related, prefetch_related)",
        6.0,
        "a SQL join becomes API composition",
        cut_bucket="joins",
        plan_key="joins_to_compose",
        becomes="API composition: two queries, joined in code",
        task="Compose with API calls instead of a join",
        strong=True,
        color="#d35400",
    ),
    EdgeKind(
        "signal",
        "a receiver listens to a model's or a module's signal (a receiver "
        "with no sender listens to every sender of that signal)",
        3.0,
        "an in-process event becomes a published event",
        cut_bucket="signals",
        plan_key="events_across",
        becomes="an event in the sender's outbox, consumed by the receiver's service",
        task="Publish an event instead of an in-process signal",
        color="#16a085",
    ),
    EdgeKind(
        "atomic",
        "a transaction.atomic block writes a model (through the ORM, in a function it calls, "
        "or with raw SQL that changes the model's table)",
        8.0,
        "one transaction across the cut becomes a saga",
        cut_bucket="atomic_blocks",
        plan_key="atomic_to_saga",
        becomes="a saga: one local transaction per service, a compensation for each",
        task="Turn a transaction into a saga",
        strong=True,
        color="#e74c3c",
    ),
    EdgeKind(
        "raw_sql",
        "hand-written SQL names a model's table",
        6.0,
        "SQL by hand against another's table",
        cut_bucket="raw_sql",
        plan_key="raw_sql",
        becomes="a call to the owner's API",
        task="Call the owner's API instead of raw SQL",
        strong=True,
        color="#7f8c8d",
    ),
    EdgeKind(
        "task",
        "a module calls a Celery task of another, or a beat schedule runs it",
        2.0,
        "already asynchronous: becomes a message",
        cut_bucket="tasks",
        plan_key="tasks_across",
        becomes="a message on the broker to the owning service",
        task="Send the task as a message to the owning service",
        color="#27ae60",
    ),
    EdgeKind(
        "cochange",
        "two modules change together in git history (--git)",
        2.0,
        "history says they change together",
        color="#f39c12",
    ),
    EdgeKind(
        "runtime",
        "a route touched a table at run time (--runtime)",
        3.0,
        "seen together at run time",
        color="#2c3e50",
    ),
)

EDGE_KINDS: dict[str, EdgeKind] = {k.name: k for k in EDGE_KIND_LIST}
KIND_NAMES: tuple[str, ...] = tuple(EDGE_KINDS)
RELATION_KINDS: tuple[str, ...] = tuple(
    k.name for k in EDGE_KIND_LIST if k.plan_key == "cut_relations"
)
STRONG_KINDS: frozenset[str] = frozenset(k.name for k in EDGE_KIND_LIST if k.strong)


def default_weights() -> dict[str, float]:
    return {k.name: k.weight for k in EDGE_KIND_LIST}


def cut_buckets() -> dict[str, tuple[str, ...]]:
    """The metrics' cut counts: bucket -> the kinds it adds up, in table order."""
    buckets: dict[str, list[str]] = {}
    for kind in EDGE_KIND_LIST:
        if kind.cut_bucket:
            buckets.setdefault(kind.cut_bucket, []).append(kind.name)
    return {bucket: tuple(kinds) for bucket, kinds in buckets.items()}


def plan_lists() -> dict[str, tuple[str, str]]:
    """A plan step's lists of cut couplings: key -> (checklist title, what each becomes)."""
    out: dict[str, tuple[str, str]] = {}
    for kind in EDGE_KIND_LIST:
        if kind.plan_key and kind.plan_key not in out:
            out[kind.plan_key] = (kind.task or "", kind.becomes or "")
    return out


def for_page() -> list[dict[str, object]]:
    """What report.html needs to know of each kind."""
    return [
        {"name": k.name, "doc": k.doc, "strong": k.strong, "shown": k.shown, "color": k.color}
        for k in EDGE_KIND_LIST
    ]


def docs_table() -> str:
    """The table of kinds in docs/analyzer.md (a test keeps the docs equal to this)."""
    rows = [
        "| kind | what the analyzer saw | weight | why that weight | cut counted as | "
        "in the plan, becomes |",
        "|---|---|---:|---|---|---|",
    ]
    for k in EDGE_KIND_LIST:
        rows.append(
            f"| `{k.name}` | {k.doc} | {k.weight:g} | {k.why} | {k.cut_bucket or '-'} | "
            f"{f'`{k.plan_key}`: {k.becomes}' if k.plan_key else '-'} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m analyzer.edge_kinds: the docs table, to paste
    print(docs_table(), end="")
