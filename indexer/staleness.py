"""Which files changed since the last indexing run: the check every CLI query makes before answering.

Kept apart from :mod:`indexer.reader` (and free of numpy) so that it can run in a forked
child while the query is answered (see :class:`assistant.freshness.FreshnessCheck`):
on a 24K-file tree the check is ~25K ``stat`` calls, a third of a search's wall time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from base.config import IndexSettings
from indexer import store


def stale_files(conn: sqlite3.Connection, repo: Path, settings: IndexSettings,
                lock: contextlib.AbstractContextManager[object] | None = None) -> list[str]:
    """Files new, changed or deleted since the last run, sorted.

    Size and mtime decide for most files; only when they differ is the content hashed
    and compared with the manifest's, so a ``git checkout`` or a patch + undo that
    restores the same bytes (with a new mtime) does not count as a change.  While the
    recorded walk holds (:func:`indexer.walkstate.replay`) a stat of each indexed file
    replaces the walk; a walk that finds nothing stale is recorded for the next check
    (the one write a reader makes, given up rather than waited for).  ``lock`` guards
    ``conn`` when other threads share it (the reader's); the stats run outside it.
    """
    from indexer import walkstate
    from indexer.discover import discover

    guard = lock if lock is not None else contextlib.nullcontext()
    with guard:
        conn.execute("BEGIN")  # the manifest, its generation and the record: one snapshot
        try:
            generation = int(store.get_meta(conn, "generation") or 0)
            rows = conn.execute("SELECT path, size, mtime_ns FROM files").fetchall()
            shape_holds = walkstate.holds(conn, repo, settings)
        finally:
            conn.execute("COMMIT")

    def content_changed(path: str, location: str, size: int, indexed: tuple[int, int] | None) -> bool:
        if indexed is None or indexed[0] != size:
            return True
        with guard:
            row = conn.execute("SELECT hash FROM files WHERE path = ?", (path,)).fetchone()
        return row is None or store.file_hash(Path(location)) != row[0]

    prefix = str(repo) + os.sep
    stale = []
    if shape_holds:  # the indexed files are all a walk would find: one stat each tells edits
        for path, size, mtime in rows:
            try:
                st = os.stat(prefix + path)
            except OSError:
                stale.append(path)  # deleted
                continue
            if (st.st_mtime_ns != mtime or st.st_size != size) and \
                    content_changed(path, prefix + path, st.st_size, (size, mtime)):
                stale.append(path)
        return sorted(stale)
    indexed = {path: (size, mtime) for path, size, mtime in rows}
    found = discover(repo, settings)
    for f in found.files:
        before = indexed.pop(f.path, None)
        if before != (f.size, f.mtime_ns) and content_changed(f.path, f.location, f.size, before):
            stale.append(f.path)
    stale.extend(indexed)  # deleted (or now ignored)
    if not stale:
        with guard:
            walkstate.remember(conn, found, settings, generation)
    return sorted(stale)


def stale_files_of(repo: Path, settings: IndexSettings) -> list[str]:
    """:func:`stale_files` of ``repo``'s index, opened for this check alone.

    Raises :class:`~base.errors.IndexMissingError` or :class:`~base.errors.IndexingError`
    as :meth:`indexer.reader.IndexReader.open` does.
    """
    repo = Path(repo).resolve()
    conn = store.open_for_reading(repo)
    try:
        return stale_files(conn, repo, settings)
    finally:
        conn.close()
