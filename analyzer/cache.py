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
    """A cache is only ever a speed-up: a damaged file is set aside (``facts.sqlite.damaged``)
    and started afresh, and a read or write that fails is a miss, never a crash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError:  # not a database any more (a crash, a disk, a hand)
            path.replace(path.with_name(path.name + ".damaged"))
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, data BLOB)")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get_many(self, keys: list[str]) -> dict[str, FileFacts]:
        found: dict[str, FileFacts] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self._db.execute(
                    f"SELECT key, data FROM facts WHERE key IN ({marks})", chunk
                ).fetchall()
            except sqlite3.Error:
                return found
            for key, data in rows:
                try:
                    facts = pickle.loads(data)
                except Exception:  # a damaged entry is a miss, never a crash
                    continue
                if isinstance(facts, FileFacts):
                    found[key] = facts
        return found

    def put_many(self, items: list[tuple[str, FileFacts]]) -> None:
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO facts (key, data) VALUES (?, ?)",
                    [
                        (key, pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
                        for key, facts in items
                    ],
                )
        except sqlite3.Error:  # a full disk or a locked file: the next run reads again
            pass

    def close(self) -> None:
        self._db.close()
