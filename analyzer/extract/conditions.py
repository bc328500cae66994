"""The ``if`` blocks a statement sits in, as one condition written the way the source has it.

URL patterns and router registrations added under ``if settings.DEBUG:`` exist only when the
condition holds; the linker evaluates the text against the settings it knows, and keeps the
route with the condition when it cannot.
"""

from __future__ import annotations

import libcst as cst

_EMPTY = cst.Module(body=[])


class Conditions:
    """Feed it visit_If / leave_If / visit_Else; ``current`` is the condition in force."""

    def __init__(self) -> None:
        self._frames: list[list] = []  # [if node, its test as written, negated]

    def visit_If(self, node: cst.If) -> None:
        if self._frames and self._frames[-1][0].orelse is node:
            self._frames[-1][2] = True  # an elif: the If before it did not hold
        self._frames.append([node, _EMPTY.code_for_node(node.test).strip(), False])

    def leave_If(self, node: cst.If) -> None:
        if self._frames and self._frames[-1][0] is node:
            self._frames.pop()

    def visit_Else(self, node: cst.Else) -> None:
        if self._frames:
            self._frames[-1][2] = True

    def push(self, node: cst.IfExp, negated: bool) -> None:
        """Enter one side of ``a if test else b`` (pop() after reading it)."""
        self._frames.append([node, _EMPTY.code_for_node(node.test).strip(), negated])

    def pop(self) -> None:
        self._frames.pop()

    def holding(self) -> list[cst.BaseExpression]:
        """The tests that hold here (the `if` branches, not the `else` ones)."""
        return [node.test for node, _, negated in self._frames if not negated]

    @property
    def current(self) -> str | None:
        parts = [f"not ({test})" if negated else test for _, test, negated in self._frames]
        if len(parts) > 1:
            parts = [f"({p})" if " and " in p or " or " in p else p for p in parts]
        return " and ".join(parts) or None


class UnderConditions:
    """A listener that needs the urlconf conditions in force: keeps `self.conditions` walked."""

    conditions: Conditions

    def visit_If(self, node: cst.If) -> None:
        self.conditions.visit_If(node)

    def leave_If(self, node: cst.If) -> None:
        self.conditions.leave_If(node)

    def visit_Else(self, node: cst.Else) -> None:
        self.conditions.visit_Else(node)
