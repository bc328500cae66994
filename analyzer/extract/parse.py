"""libcst's parse, kept from taking the process down on deeply nested source.

libcst's native parser recurses on the C stack and segfaults, no exception, on deep nesting
(measured with libcst 1.x on an 8 MB main-thread stack: 1,290 nested parentheses, 2,200
chained subscripts, 3,100 chained calls, 5,000 chained ``+`` or attributes, 6,800 unary
minus). CPython's own parser rejects most of that (200 nested parentheses at most; a
RecursionError for chains of about 3,000), so such a file is no working Python anyway. Two
defences: the parse runs on a thread with a 64 MB stack (eight times the depth, for the cost
of starting a thread), and a file that is deep by a cheap bracket count, or big enough to
hold a deep chain, is first compiled by CPython and skipped when CPython finds it too deep.
"""

from __future__ import annotations

import ast
import itertools
import os
import queue
import threading
import warnings

import libcst as cst

PARSE_STACK_BYTES = 64 * 2**20
SUSPECT_DEPTH = 200  # bracket depth that CPython itself refuses
SUSPECT_BYTES = 128_000  # big enough to hold a chain deep enough to overflow the 64 MB stack
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"()[]{}")
_STEPS = bytes.maketrans(b"([{)]}", b"\x01\x01\x01\xff\xff\xff")


class TooDeep(Exception):
    """The source nests deeper than either parser can take."""


def bracket_depth(source: bytes) -> int:
    """Deepest bracket nesting, counting brackets in strings and comments too (an upper
    bound, about 1% of the parse time)."""
    steps = source.translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(itertools.accumulate(steps, lambda depth, step: depth + (1 if step == 1 else -1), initial=0))  # fmt: skip


def _too_deep_for_cpython(source: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the analysed file's invalid escapes are not ours
            compile(source, "<analysed file>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (RecursionError, MemoryError):
        return True
    except SyntaxError as exc:
        return "too many nested" in str(exc.msg)
    except ValueError:  # null bytes: libcst reports those itself
        return False
    return False


def parse_module(source: bytes) -> cst.Module:
    """``cst.parse_module`` that raises :class:`TooDeep` instead of overflowing the stack."""
    if (len(source) > SUSPECT_BYTES or bracket_depth(source) > SUSPECT_DEPTH) and (
        _too_deep_for_cpython(source)
    ):
        raise TooDeep
    return _PARSER.parse(source)


class _BigStackParser:
    """One long-lived thread per process with a big stack, that parses what it is handed
    (starting a thread per file would cost more than parsing a small file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()

    def parse(self, source: bytes) -> cst.Module:
        with self._lock:  # one parse at a time: the thread has one request slot
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._start()  # first use, or a forked worker (threads do not survive a fork)
            self._requests.put(source)
            ok, result = self._replies.get()
        if not ok:
            raise result  # type: ignore[misc]
        return result  # type: ignore[return-value]

    def _start(self) -> None:
        self._pid = os.getpid()
        self._requests, self._replies = queue.SimpleQueue(), queue.SimpleQueue()
        previous = threading.stack_size(PARSE_STACK_BYTES)
        try:
            self._thread = threading.Thread(
                target=self._serve, args=(self._requests, self._replies), name="figkit-parse",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        finally:
            threading.stack_size(previous)

    @staticmethod
    def _serve(requests: queue.SimpleQueue, replies: queue.SimpleQueue) -> None:
        while True:
            source = requests.get()
            try:
                replies.put((True, cst.parse_module(source)))
            except BaseException as exc:  # handed to the caller's thread
                replies.put((False, exc))
            del source


_PARSER = _BigStackParser()
