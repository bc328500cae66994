"""Per-file fact cache, keyed by content hash, module name and extractor version.

One SQLite file in the report folder. A second run after changing one file re-reads only
that file; a change to the extractor's own code changes the version and so every key.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from functools import cache
from pathlib import Path

from analyzer.facts import FileFacts


@cache
def extractor_version() -> str:
    """A hash of the extraction code itself, so cached facts never outlive the code."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted([package / "facts.py", *(package / "extract").glob("*.py")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def file_key(data: bytes, module: str, is_package: bool) -> str:
    digest = hashlib.blake2b(data, digest_size=20)
    digest.update(f"\0{module}\0{is_package}\0{extractor_version()}".encode())
    return digest.hexdigest()


class FactCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, data BLOB)")

    def get_many(self, keys: list[str]) -> dict[str, FileFacts]:
        found: dict[str, FileFacts] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, data in self._db.execute(
                f"SELECT key, data FROM facts WHERE key IN ({marks})", chunk
            ):
                try:
                    found[key] = pickle.loads(data)
                except Exception:  # a damaged entry is a miss, never a crash
                    continue
        return found

    def put_many(self, items: list[tuple[str, FileFacts]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO facts (key, data) VALUES (?, ?)",
                [
                    (key, pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
                    for key, facts in items
                ],
            )

    def close(self) -> None:
        self._db.close()
