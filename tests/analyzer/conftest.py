"""Analyses of the fixture projects, run once per session, and helpers to look facts up."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.pipeline import analyze

FIXTURES = Path(__file__).parent / "fixtures"
collect_ignore_glob = ["fixtures/*"]  # small projects to analyse, not tests to run
REPO = Path(__file__).resolve().parents[2]


def line_of(project: Path, relpath: str, text: str) -> int:
    """The 1-based line where ``text`` first appears in a fixture file."""
    for number, line in enumerate((project / relpath).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {relpath}")


class Facts:
    """An analysis.json document with lookups shaped like the questions tests ask."""

    def __init__(self, document: dict, root: Path) -> None:
        self.doc = document
        self.root = root

    def edges(self, kind: str) -> dict[tuple[str, str], dict]:
        return {(e["source"], e["target"]): e for e in self.doc["edges"] if e["kind"] == kind}

    def evidence(self, kind: str, source: str, target: str) -> set[tuple[str, int]]:
        edge = self.edges(kind).get((source, target))
        assert edge is not None, (
            f"no {kind} edge {source} -> {target}; have {sorted(self.edges(kind))}"
        )
        return {(e["file"], e["line"]) for e in edge["evidence"]}

    def model(self, label: str) -> dict:
        found = [m for m in self.doc["models"] if m["label"] == label]
        assert found, f"no model {label}"
        return found[0]

    def line(self, relpath: str, text: str) -> int:
        return line_of(self.root, relpath, text)


@pytest.fixture(scope="session")
def tinyshop() -> Facts:
    root = FIXTURES / "tinyshop"
    return Facts(analyze(root, jobs=1).to_json(), root)


@pytest.fixture(scope="session")
def monolith() -> Facts:
    root = REPO / "legacy_monolith"
    return Facts(analyze(root, jobs=2).to_json(), root)
