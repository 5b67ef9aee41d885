"""One writer per repository: an ``fcntl`` lock on ``index/index.lock``.

The kernel releases the lock when the holder dies (even with ``kill -9``), so a
crashed run never leaves the repository locked.  Readers never take it.

The lock file also says how the last run ended: the writer records
``<pid> running`` when it starts and ``<pid> finished`` when its run returns, so a
run that was killed, crashed or interrupted by Ctrl-C leaves ``running`` behind
in an unlocked file, and :func:`run_state` reports it as interrupted (``status``
then says that ``index`` resumes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from base.errors import IndexingError, IndexLockedError
from base.paths import ensure_data_dir
from indexer.store import LOCK_NAME, index_dir

RUNNING = "running"
FINISHED = "finished"


@dataclass(frozen=True)
class RunState:
    """How the last index run stands: ``"running"`` (now, by ``pid``), ``"interrupted"``,
    ``"finished"`` or ``"unknown"`` (no lock file, or one written by an older version).
    ``since`` is when the lock file was last written (the start or the end of that run)."""

    state: str
    pid: int | None = None
    since: float | None = None


def _write(handle: TextIO, text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def _parse(text: str) -> tuple[int | None, str]:
    parts = text.split()
    pid = int(parts[0]) if parts and parts[0].isdigit() else None
    return pid, parts[1] if len(parts) > 1 else ""


@contextlib.contextmanager
def index_lock(repo: Path, wait: bool = False) -> Iterator[None]:
    """Hold the repository's index lock; raise :class:`IndexLockedError` if busy and not ``wait``.

    Taking the lock is the first write of a run, so a read-only repository fails here,
    with one :class:`IndexingError` naming the directory that must be writable.
    """
    path = index_dir(repo) / LOCK_NAME
    try:
        ensure_data_dir(repo, path.parent.name)
        handle = path.open("a+")
    except OSError as exc:
        raise IndexingError(
            f"cannot write the index: {path.parent} is not writable ({exc.strerror or exc})",
            hint=f"`repo-assistant index` needs write access to {path.parent.parent}; "
                 "search, status and the other commands still read an existing index",
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = _parse(handle.read())[0] or "?"
            raise IndexLockedError(
                f"another `repo-assistant index` (pid {holder}) is indexing {repo}",
                hint="wait for it to finish, or pass --wait",
            ) from None
        try:
            _write(handle, f"{os.getpid()} {RUNNING}")
            yield
            _write(handle, f"{os.getpid()} {FINISHED}")  # not reached when the run raised
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_state(repo: Path) -> RunState:
    """How the last index run of ``repo`` stands (see the module docstring); never writes."""
    path = index_dir(repo) / LOCK_NAME
    try:
        with path.open("r") as handle:
            pid, word = _parse(handle.read())
            since = os.fstat(handle.fileno()).st_mtime
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return RunState("running", pid, since)
            except OSError:
                pass  # a file system without locks: judge by the content alone
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return RunState("unknown")
    if word == RUNNING:
        return RunState("interrupted", pid, since)
    return RunState("finished" if word == FINISHED else "unknown", pid, since)
