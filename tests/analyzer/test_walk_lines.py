"""The extractor's own line tracking agrees with libcst's PositionProvider."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from analyzer.extract.walk import Walker

REPO = Path(__file__).resolve().parents[2]


class _Recorder:
    def __init__(self) -> None:
        self.walker: Walker | None = None
        self.seen: list[tuple[cst.CSTNode, int]] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.seen.append((node, self.walker.line))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.seen.append((node, self.walker.line))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.seen.append((node, self.walker.line))


def test_lines_match_position_provider_across_the_repository():
    files = sorted((REPO / "legacy_monolith").rglob("*.py")) + sorted(
        (REPO / "analyzer").rglob("*.py")
    )
    checked = 0
    for path in files:
        source = path.read_text()
        module = cst.parse_module(source)
        recorder = _Recorder()
        walker = Walker([recorder])
        recorder.walker = walker
        walker.walk(module)
        assert walker.newlines == source.count("\n"), path
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for node, line in recorder.seen:
            assert line == positions[node].start.line, (path, line, type(node).__name__)
            checked += 1
    assert checked > 5000
