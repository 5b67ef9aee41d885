"""One writer per repository: an ``fcntl`` lock on ``index/index.lock``.

The kernel releases the lock when the holder dies (even with ``kill -9``), so a
crashed run never leaves the repository locked.  Readers never take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from base.errors import IndexLockedError
from base.paths import ensure_dir
from indexer.store import LOCK_NAME, index_dir


@contextlib.contextmanager
def index_lock(repo: Path, wait: bool = False) -> Iterator[None]:
    """Hold the repository's index lock; raise :class:`IndexLockedError` if busy and not ``wait``."""
    path = ensure_dir(index_dir(repo)) / LOCK_NAME
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise IndexLockedError(
                f"another `repo-assistant index` (pid {holder}) is indexing {repo}",
                hint="wait for it to finish, or pass --wait",
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
