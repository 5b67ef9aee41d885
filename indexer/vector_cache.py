"""A user-wide cache of chunk vectors, shared by every repository indexed on this machine.

Why: the same code is often embedded more than once.  A second clone or a git worktree
of a project, a branch switched away and back (a repository's own cache keeps only the
vectors of chunks indexed now), ``index --rebuild``, releases of one project side by
side (the localization bench indexes 50 releases of eight projects: 431K chunks, 150K
distinct).  Embedding is the slowest part of indexing, so a hit here saves the most.

Keys are the repository cache's keys (SHA-1 of the model key and the exact text the
model sees), so a hit is the vector the model would have produced.  Only keys and
vectors are stored, never code.  The file is capped (``index.shared_vector_cache_mb``,
0 turns the cache off); the oldest entries go first.  Every failure here is logged and
treated as a miss: the cache must never break or slow an indexing run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from base.paths import user_cache_dir
from indexer.store import vectors_by_key

log = logging.getLogger(__name__)

ROW_BYTES_ESTIMATE = 1_700  # a 384-float vector, its 40-character key and SQLite overhead
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)"


def shared_cache_dir() -> Path:
    """``<user cache>/vectors``; ``REPO_ASSISTANT_VECTOR_CACHE_DIR`` overrides (tests isolate it)."""
    override = os.environ.get("REPO_ASSISTANT_VECTOR_CACHE_DIR")
    return Path(override).expanduser() if override else user_cache_dir() / "vectors"


class SharedVectorCache:
    """Get and put vectors by key; bounded to ``max_mb`` megabytes (approximately)."""

    def __init__(self, directory: Path, max_mb: int) -> None:
        self.max_rows = max(1, max_mb * 1_000_000 // ROW_BYTES_ESTIMATE)
        self.rows = 0  # rows at the last count plus those put since (a replaced key counts as new)
        self.conn: sqlite3.Connection | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(directory / "vectors.sqlite", timeout=10, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self.rows = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
            self.conn = conn
        except (OSError, sqlite3.Error) as exc:
            log.warning("shared vector cache unavailable (%s): embedding everything", exc)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        if self.conn is None:
            return {}
        try:
            return vectors_by_key(self.conn, "vectors", keys)
        except sqlite3.Error as exc:
            log.warning("shared vector cache read failed (%s)", exc)
            return {}

    def put_many(self, rows: Iterable[tuple[str, bytes]]) -> None:
        if self.conn is None:
            return
        rows = list(rows)
        if not rows:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT OR REPLACE INTO vectors(key, vec) VALUES (?, ?)", rows)
            self.rows += len(rows)
            if self.rows > self.max_rows:  # count only when the cap may have been passed
                count = self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
                if count > self.max_rows:  # rowids grow with insertion: the smallest are the oldest
                    self.conn.execute("DELETE FROM vectors WHERE rowid IN "
                                      "(SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)", (count - self.max_rows,))
                self.rows = min(count, self.max_rows)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("shared vector cache write failed (%s)", exc)
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def open_shared_cache(max_mb: int) -> SharedVectorCache | None:
    """The machine's shared cache, or ``None`` when turned off (``max_mb`` ≤ 0)."""
    return SharedVectorCache(shared_cache_dir(), max_mb) if max_mb > 0 else None
