"""Whether a new walk of the repository would find the files the last one found, from stats alone.

Every CLI query first asks whether the index is stale, and a full walk of a kernel-sized
tree (:func:`indexer.discover.discover`: list every directory, apply the ignore rules)
costs about a second.  But a walk can only find other paths when a directory it listed
gained, lost or renamed an entry (which changes that directory's mtime), when an ignore
file changed, or when a file skipped as too large changed size.  So the shape of a walk
is recorded in the ``walk_state`` table: the mtime of every walked directory and the
``(size, mtime)`` of every ignore file and too-large file.  When all of them still stat
the same, the indexed paths are exactly what a walk would find, and :func:`replay`
rebuilds the walk's result from a stat of each (their sizes and mtimes then tell edits
in place, as after a walk); a staleness check only needs :func:`holds` and those stats.

The record is written with the manifest it describes: by an index run that finished,
and by a query-time walk that found nothing stale.  It is cleared before an index run
changes the manifest, so a killed run never leaves a record that vouches for a manifest
it did not see.  A missing table or record (an index written before this existed) only
means "walk".  A walk that met broken links or unreadable entries is never recorded,
nor one that saw a timestamp within :data:`RACY_NS` of its start: a change in the same
clock tick (or the same second, on coarse filesystems) would leave the mtime as it was.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from base.config import IndexSettings
from indexer import store
from indexer.discover import (
    ABSENT,
    ALWAYS_SKIPPED_DIRS,
    BINARY_SUFFIXES,
    DEFAULT_EXCLUDES,
    Candidate,
    Discovery,
)
from indexer.secrets import SECRET_FILE_PATTERNS
from indexer.types import SkippedFile

RACY_NS = 2_000_000_000  # the coarsest common mtime granularity (FAT); ext4, btrfs, xfs are far finer
META_KEY = "walk_fingerprint"
SHORT_BUSY_MS = 100  # a query records a walk only if no writer is mid-transaction: it never waits on one


def fingerprint(settings: IndexSettings) -> str:
    """What decides a walk's result besides the tree: the settings it reads and the built-in rules."""
    rules = (DEFAULT_EXCLUDES, sorted(BINARY_SUFFIXES), sorted(ALWAYS_SKIPPED_DIRS), SECRET_FILE_PATTERNS,
             list(settings.exclude), settings.max_file_bytes, settings.index_secrets)
    return hashlib.sha1(repr(rules).encode()).hexdigest()


def is_recordable(found: Discovery) -> bool:
    """A walk whose every timestamp predates it by more than :data:`RACY_NS`, and no entry it could not stat."""
    newest = max([*found.dirs.values(), *(mtime for _, mtime in found.watched.values())], default=0)
    return not found.volatile and newest < found.started_ns - RACY_NS


def record(conn: sqlite3.Connection, found: Discovery, settings: IndexSettings) -> None:
    """Replace the recorded walk by ``found`` (call inside the transaction that makes the manifest match it)."""
    forget(conn)
    if not is_recordable(found):
        return
    rows = [("dir", path, -1, mtime) for path, mtime in found.dirs.items()]
    rows += [("file", path, size, mtime) for path, (size, mtime) in found.watched.items()]
    conn.executemany("INSERT INTO walk_state(kind, path, size, mtime_ns) VALUES (?, ?, ?, ?)", rows)
    store.set_meta(conn, META_KEY, fingerprint(settings))


def forget(conn: sqlite3.Connection) -> None:
    """Drop the record (before the manifest changes): the next check walks."""
    conn.execute("DELETE FROM walk_state")
    conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))


def remember(conn: sqlite3.Connection, found: Discovery, settings: IndexSettings, generation: int) -> bool:
    """Record a query-time walk that found nothing stale, unless the index moved past ``generation``.

    Best effort, for the next check's sake: an index written by an older version (no table),
    a read-only one, or a writer holding the database all leave things as they are.
    """
    if not is_recordable(found):
        return False
    try:
        previous = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        conn.execute(f"PRAGMA busy_timeout={SHORT_BUSY_MS}")
        try:
            with store.transaction(conn):
                if int(store.get_meta(conn, "generation") or 0) != generation:
                    return False
                record(conn, found, settings)
        finally:
            conn.execute(f"PRAGMA busy_timeout={previous}")
    except sqlite3.Error:
        return False
    return True


def holds(conn: sqlite3.Connection, repo: Path, settings: IndexSettings) -> bool:
    """Whether the record vouches for the manifest: made under these settings, and every
    recorded directory, ignore file and too-large file stats as recorded."""
    root = str(repo)
    prefix = root + os.sep
    try:
        if store.get_meta(conn, META_KEY) != fingerprint(settings):
            return False
        rows = conn.execute("SELECT kind, path, size, mtime_ns FROM walk_state").fetchall()
    except sqlite3.Error:
        return False
    return bool(rows) and all(_holds(prefix + path if path else root, kind, size, mtime)
                              for kind, path, size, mtime in rows)


def replay(conn: sqlite3.Connection, repo: Path, settings: IndexSettings,
           indexed: Iterable[str]) -> Discovery | None:
    """What a walk would find now, rebuilt from the record and a stat of each ``indexed`` path.

    ``indexed`` are the manifest's paths, which the record vouches are all the files a walk
    finds; the skipped entries are the last run's own (those of the walk, not the files the
    pipeline skipped for their content).  ``None`` when only a walk can tell: the record
    does not :func:`hold <holds>`, or an indexed file is gone or has grown past
    ``max_file_bytes``.
    """
    if not holds(conn, repo, settings):
        return None
    found = Discovery(started_ns=time.time_ns())
    try:
        for kind, path, size, mtime in conn.execute("SELECT kind, path, size, mtime_ns FROM walk_state"):
            if kind == "dir":
                found.dirs[path] = mtime
            else:
                found.watched[path] = (size, mtime)
        found.skipped = [SkippedFile(path, reason) for path, reason in conn.execute(
            "SELECT path, reason FROM skipped WHERE path NOT IN "
            "(SELECT path FROM files WHERE status LIKE 'skipped:%')")]
    except sqlite3.Error:
        return None
    prefix = str(repo) + os.sep
    for path in sorted(indexed):
        location = prefix + path
        try:
            st = os.stat(location)
        except OSError:
            return None
        if st.st_size > settings.max_file_bytes:
            return None
        found.files.append(Candidate(path, location, st.st_size, st.st_mtime_ns))
    return found


def _holds(location: str, kind: str, size: int, mtime_ns: int) -> bool:
    """Whether a recorded directory (its mtime) or file (size and mtime, or absence) stats as recorded."""
    try:
        st = os.stat(location)
    except OSError:
        return kind == "file" and (size, mtime_ns) == ABSENT
    if kind == "dir":
        return st.st_mtime_ns == mtime_ns and stat.S_ISDIR(st.st_mode)
    return (st.st_size, st.st_mtime_ns) == (size, mtime_ns)
