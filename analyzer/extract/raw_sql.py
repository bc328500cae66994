"""Raw SQL (``cursor.execute``, ``Model.objects.raw``, ``RunSQL``) read for the tables it names.

sqlglot parses the statement; when it cannot (vendor syntax, fragments glued at runtime), a
tolerant scan of FROM/JOIN/UPDATE/INTO clauses finds the tables instead and the fact says so.
"""

from __future__ import annotations

import re
from functools import lru_cache

import libcst as cst

from analyzer.extract.context import Context
from analyzer.extract.scope import sql_text
from analyzer.facts import RawSql

_LOOKS_LIKE_SQL = re.compile(
    r"^\s*(\(|--[^\n]*\n\s*)*(select|insert|update|delete|with|create|alter|drop|truncate|"
    r"merge|replace)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|\?(?!\w)")
_TOLERANT = re.compile(
    r"\b(?:from|join|update|into|table)\s+(?:only\s+)?[\"`\[]?([A-Za-z_][\w.]*)", re.IGNORECASE
)
_SQL_METHODS = ("execute", "executemany", "raw", "extra")
_TOLERANT_WRITE = re.compile(
    r"\b(?:update|insert\s+into|delete\s+from|truncate(?:\s+table)?|merge\s+into)\s+"
    r"(?:only\s+)?[\"`\[]?([A-Za-z_][\w.]*)",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def tables_in(sql: str) -> tuple[tuple[str, ...], bool]:
    """Table names in a SQL text (lower case, no schema) and whether the parser read it."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = _PLACEHOLDER.sub("0", sql)
    try:
        statements = sqlglot.parse(text, read="postgres")
        names: set[str] = set()
        ctes: set[str] = set()
        for statement in statements:
            if statement is None:
                continue
            for cte in statement.find_all(exp.CTE):
                ctes.add(cte.alias_or_name.lower())
            for table in statement.find_all(exp.Table):
                if table.name:
                    names.add(table.name.lower())
        found = tuple(sorted(n for n in names - ctes if n != "_x"))
        return found, True
    except (SqlglotError, RecursionError, ValueError):
        scanned = {m.group(1).rsplit(".", 1)[-1].lower() for m in _TOLERANT.finditer(sql)}
        return tuple(sorted(n for n in scanned if n not in ("select", "_x"))), False


@lru_cache(maxsize=4096)
def written_tables(sql: str) -> tuple[str, ...]:
    """Tables a SQL text changes (INSERT, UPDATE, DELETE, MERGE, TRUNCATE targets), lower case."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = _PLACEHOLDER.sub("0", sql)
    try:
        names: set[str] = set()
        for statement in sqlglot.parse(text, read="postgres"):
            if statement is None:
                continue
            for change in statement.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
                target = change.this
                table = target if isinstance(target, exp.Table) else target.find(exp.Table)
                if table is not None and table.name:
                    names.add(table.name.lower())
            for truncate in statement.find_all(exp.TruncateTable):
                names.update(t.name.lower() for t in truncate.expressions if t.name)
        return tuple(sorted(names))
    except (SqlglotError, RecursionError, ValueError):
        return tuple(
            sorted({m.group(1).rsplit(".", 1)[-1].lower() for m in _TOLERANT_WRITE.finditer(sql)})
        )


def sql_arguments(
    ctx: Context, call: cst.Call
) -> tuple[tuple[int, tuple[str, ...], bool, tuple[str, ...]], ...]:
    """SQL passed as a positional argument: (index, tables, parsed, tables written) for each."""
    found = []
    for position, arg in enumerate(call.args[:4]):
        if arg.keyword is not None or arg.star:
            break
        if isinstance(arg.value, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString):
            sql = sql_text(ctx, arg.value)
            if sql is not None and _LOOKS_LIKE_SQL.match(sql):
                found.append((position, *tables_in(sql), written_tables(sql)))
    return tuple(found)


class RawSqlReader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            if func.attr.value not in _SQL_METHODS:
                return
        elif not (isinstance(func, cst.Name) and func.value == "RunSQL"):
            return
        if isinstance(func, cst.Attribute) and func.attr.value == "extra":
            return  # .extra(where=[...]) holds fragments, not statements
        if not node.args:
            return
        first = node.args[0].value
        ctx = self.ctx
        if isinstance(first, cst.Name) and ctx.params and first.value in ctx.params[-1]:
            # a helper that executes what its caller passes: calls to it carry the SQL
            sinks = ctx.facts.sql_sinks.setdefault(ctx.functions[-1], [])
            position = ctx.params[-1].index(first.value)
            if position not in sinks:
                sinks.append(position)
            return
        sql = sql_text(self.ctx, first)
        if sql is None or not _LOOKS_LIKE_SQL.match(sql):
            return
        tables, parsed = tables_in(sql)
        ctx.facts.raw_sql.append(
            RawSql(tables, ctx.line, ctx.function, parsed, tuple(ctx.blocks), written_tables(sql))
        )
