"""Co-change coupling from git history: modules that keep changing in the same commits.

As code-maat measures it: a pair's degree is shared revisions / the average revisions of
the two; pairs under the thresholds are dropped, and so are commits that touch so many
files (mass renames, reformatting) that they say nothing about coupling.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from analyzer.errors import AnalyzerError


@dataclass(frozen=True)
class Thresholds:
    min_revisions: int = 10  # each file changed at least this often
    min_shared: int = 10  # changed together at least this often
    min_degree: float = 0.30  # shared / mean revisions
    max_changeset: int = 30  # commits touching more files are skipped


@dataclass(frozen=True)
class CoChange:
    a: str
    b: str
    shared: int
    revisions_a: int
    revisions_b: int

    @property
    def degree(self) -> float:
        return self.shared / ((self.revisions_a + self.revisions_b) / 2)


def read_log(root: Path) -> str:
    """`git log` of the files under root, one NUL line before each commit's paths (relative to root)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "log", "--no-merges", "--no-renames", "--name-only", "--format=%x00", "--relative", "--", "."],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise AnalyzerError("--git needs the git command; install git or drop --git") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git log failed"])[0]
        raise AnalyzerError(f"--git: {root} has no readable git history ({first}); drop --git")
    return done.stdout


def commits(log: str) -> list[list[str]]:
    out = []
    for chunk in log.split("\x00"):
        files = [line for line in chunk.splitlines() if line.strip()]
        if files:
            out.append(files)
    return out


def cochange(
    changesets: list[list[str]], keep: set[str], thresholds: Thresholds = Thresholds()
) -> list[CoChange]:
    """Pairs of files in `keep` that change together, under code-maat's thresholds."""
    revisions: Counter[str] = Counter()
    shared: Counter[tuple[str, str]] = Counter()
    for files in changesets:
        if len(files) > thresholds.max_changeset:
            continue
        mine = sorted({f for f in files if f in keep})
        revisions.update(mine)
        shared.update(combinations(mine, 2))
    pairs = []
    for (a, b), n in shared.items():
        if (
            n < thresholds.min_shared
            or revisions[a] < thresholds.min_revisions
            or revisions[b] < thresholds.min_revisions
        ):
            continue
        pair = CoChange(a, b, n, revisions[a], revisions[b])
        if pair.degree >= thresholds.min_degree:
            pairs.append(pair)
    return sorted(pairs, key=lambda p: (-p.shared, p.a, p.b))
