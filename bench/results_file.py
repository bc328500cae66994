"""bench/RESULTS.md is shared by every benchmark: each one owns one `## ` section."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def merge_section(document: str, heading: str, section: str) -> str:
    """Replace the section that starts with ``heading`` if the file has it, else append it."""
    start = document.find(heading)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section
    end = document.find("\n## ", start + len(heading))
    rest = document[end + 1 :] if end >= 0 else ""
    return document[:start] + section + ("\n" + rest if rest else "")


def write_section(heading: str, section: str, path: Path = RESULTS) -> None:
    document = path.read_text() if path.exists() else "# Benchmark results\n"
    path.write_text(merge_section(document, heading, section))


def machine() -> str:
    """One line naming the machine, so figures are read against what produced them."""
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.1f} GiB memory"
    except (ValueError, OSError):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()  # fmt: skip
    return f"{os.cpu_count()} CPUs{memory}, Python {platform.python_version()}, figkit at {commit or '?'}"
