"""Extraction: one source file in, its :class:`~analyzer.facts.FileFacts` out.

Pure and picklable, so it runs in worker processes and its result can be cached by content
hash. One libcst parse per file and one walk; every fact kind is a listener in
``LISTENERS``, called in that order on the way down (ScopeTracker first, so names are bound
before the others look them up) and in reverse on the way up. A new fact kind is one new
listener class added to that list.
"""

from __future__ import annotations

import ast
import warnings

import libcst as cst

from analyzer.bugs import bug_warning
from analyzer.extract.beat import BeatSchedule
from analyzer.extract.calls import Calls
from analyzer.extract.context import Context
from analyzer.extract.definitions import Definitions
from analyzer.extract.orm import Orm
from analyzer.extract.parse import TooDeep, parse_module
from analyzer.extract.raw_sql import RawSqlReader
from analyzer.extract.routers import Routers
from analyzer.extract.scope import ScopeTracker, prebind_module
from analyzer.extract.urls import Urls
from analyzer.extract.walk import Walker
from analyzer.facts import FileFacts, Warning_

LISTENERS = (ScopeTracker, Definitions, Calls, Orm, RawSqlReader, Urls, Routers, BeatSchedule)


def extract(source: bytes, path: str, module: str, is_package: bool) -> FileFacts:
    """Facts of one file; a file that does not parse gives a warning instead of facts.

    Never raises: an unexpected exception (an analyzer bug) becomes a warning naming the file
    and the line the walk had reached, and the facts gathered up to there are kept.
    """
    facts = FileFacts(path=path, module=module)
    walker: Walker | None = None
    try:
        try:
            tree = parse_module(source)
        except (cst.ParserSyntaxError, cst.CSTValidationError) as exc:
            line, detail = _syntax_error(source, exc)
            hint = " (Python 2 code?)" if _looks_like_python2(source) else ""
            facts.warnings.append(Warning_(path, f"does not parse{hint}: {detail}; skipped", line))
            return facts
        except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
            facts.warnings.append(Warning_(path, f"does not decode ({exc}); skipped"))
            return facts
        except (RecursionError, TooDeep):
            facts.warnings.append(Warning_(path, "nests too deeply to parse; skipped"))
            return facts
        ctx = Context(facts, is_package)
        walker = Walker([listener(ctx) for listener in LISTENERS])
        ctx.walker_line = lambda: walker.newlines + 1
        prebind_module(ctx, tree)
        try:
            walker.walk(tree)
        except RecursionError:
            facts.warnings.append(
                Warning_(path, "nests too deeply to read completely; facts partial")
            )
        facts.lines = walker.newlines
    except Exception as exc:  # the one guard of this stage: one file, never the whole run
        line = walker.line if walker is not None and walker.newlines else None
        facts.warnings.append(bug_warning(path, line, f"{path} (facts partial)", exc))
    return facts


def _syntax_error(
    source: bytes, exc: cst.ParserSyntaxError | cst.CSTValidationError
) -> tuple[int | None, str]:
    """Line and message of a syntax error. libcst reports where its parser gave up, often
    the line after the mistake; CPython's compiler, run only on files that fail, names the
    line people expect."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the analysed file's invalid escapes are not ours
            compile(source, "<analysed file>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as py_exc:
        if py_exc.lineno:
            return py_exc.lineno, f"{py_exc.msg} (line {py_exc.lineno})"
    except (ValueError, RecursionError, MemoryError):
        pass
    detail = (str(exc).splitlines() or [type(exc).__name__])[0]
    return getattr(exc, "raw_line", None), detail


def _looks_like_python2(source: bytes) -> bool:
    return b"print " in source or b"except Exception, " in source or b"ur'" in source
