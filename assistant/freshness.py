"""Keeping the index fresh without being asked: a file watcher for long-running front ends,
and a quick refresh before a one-off query.

An agent (through the MCP server) or a person in the TUI edits files and asks the next
question at once; answering from the old text is the failure users notice.  So:

* :class:`IndexWatcher` — while the MCP server or the TUI runs, a ``watchfiles`` thread
  collects changes (debounced, filtered by the indexer's own ignore rules so build
  output and the index itself never trigger work) and a worker thread re-indexes
  incrementally: BM25 first (embeddings off: searchable in well under a second for a
  few files), then the vectors of the changed chunks.  Readers never take the index
  lock and follow the new generation by themselves, so a query never waits on
  embedding; a new change cancels a running vector pass so BM25 catches up first.
* :class:`FreshnessCheck` — without a watcher (the CLI), a query first re-indexes the
  files whose size or mtime changed when there are few of them, and says so.  The check
  runs in a forked child while the query is answered, which is answered again only when
  files were re-indexed.

Both write through :func:`indexer.pipeline.index_repository`, which holds the
repository's index lock: a watcher never corrupts a concurrent ``repo-assistant index``
(it finds the lock busy and retries), and a process killed mid-refresh leaves the last
committed generation readable (every step is one SQLite transaction; the kernel drops
the lock with the process).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.config import IndexSettings
from base.errors import AssistantError, IndexLockedError, IndexMissingError
from base.forked import ForkedCall
from base.paths import PROJECT_IGNORE_NAME

log = logging.getLogger(__name__)

REFRESH_LIMIT = 20  # a CLI query refreshes at most this many changed files before answering
STEP_MS = 200  # quiet time that ends a burst of changes (an editor's save, a `git checkout`)
DEBOUNCE_MS = 1600  # the longest a burst is collected before it is indexed anyway
BUSY_RETRY_S = 1.0  # another process holds the index lock: look again after this long
IGNORE_FILES = frozenset({".gitignore", PROJECT_IGNORE_NAME})


# --------------------------------------------------------------------------- one-off refresh


@dataclass(frozen=True)
class RefreshReport:
    """What a pre-query refresh did: how many files had changed, how many were re-indexed, and a note."""

    stale: int = 0
    refreshed: int = 0
    note: str = ""  # one line for the user; "" when the index was already fresh


class FreshnessCheck:
    """Before a one-off query (the CLI, where nothing watches the files): re-index the few changed ones.

    Files changed since the last run are re-indexed (BM25 only) when there are at most
    ``limit``; more (a branch switch) would make a quick query slow, so the note then says to
    run ``repo-assistant index``.  A missing index is left to the query to report; a busy index
    lock (someone is indexing) is a note, not an error.  The vectors of refreshed files come
    with the next full ``index`` run; until then hybrid search finds the new text through BM25.

    The check stats every indexed file (25K on a large tree, ~0.1 s), so it comes in two
    steps: :meth:`start` runs it in a forked child (:mod:`base.forked`), the caller answers from
    the index meanwhile, and :meth:`refresh` waits for the check and re-indexes what changed.
    Only when something was re-indexed must the caller answer again: most queries find nothing
    changed and pay nothing for the check.
    """

    def __init__(self, repo: Path, settings: IndexSettings, limit: int, check: ForkedCall[list[str]]) -> None:
        self.repo = repo
        self.settings = settings
        self.limit = limit
        self._check = check

    @classmethod
    def start(cls, repo: Path, settings: IndexSettings, *, limit: int = REFRESH_LIMIT) -> FreshnessCheck:
        from indexer.staleness import stale_files_of

        return cls(repo, settings, limit, ForkedCall.start(stale_files_of, repo, settings))

    def refresh(self) -> RefreshReport:
        """Wait for the check, re-index the changed files when they are few, and say what was done."""
        try:
            stale = self._check.result()
        except (IndexMissingError, AssistantError):
            return RefreshReport()
        if not stale:
            return RefreshReport()
        if len(stale) > self.limit:
            return RefreshReport(len(stale), 0, f"{len(stale)} files changed since indexing; "
                                                "run `repo-assistant index` to refresh them")
        from indexer.pipeline import index_repository  # numpy and the chunkers: only when there is work

        try:
            stats = index_repository(self.repo, self.settings, embeddings=False)
        except IndexLockedError:
            return RefreshReport(len(stale), 0,
                                 f"{len(stale)} changed file(s) not refreshed: the index is being written")
        except AssistantError as exc:  # a read-only checkout: answer from the index as it is, and say so
            return RefreshReport(len(stale), 0, f"{len(stale)} changed file(s) not refreshed: {exc.one_line()}")
        done = stats.files_indexed + stats.files_deleted
        plural = "s" if done != 1 else ""
        return RefreshReport(len(stale), done, f"refreshed {done} changed file{plural} before answering")

    def abandon(self) -> None:
        """The caller gave up (an error, Ctrl-C): stop the check without acting on it."""
        self._check.cancel()


# --------------------------------------------------------------------------- ignore rules


class IgnoreFilter:
    """The indexer's ignore rules (``indexer.discover``) applied to one changed path at a time.

    The watcher sees every write under the repository, the index's own included; only
    paths the indexer would consider (or the ignore files that change what it considers)
    may start a refresh.  Per-directory rules are cached and dropped when an ignore file
    changes.
    """

    def __init__(self, repo: Path, settings: IndexSettings) -> None:
        self.repo = repo.resolve()
        self.settings = settings
        self._rules: dict[str, Any] = {}

    def relevant(self, path: str) -> bool:
        """Whether a change of ``path`` (absolute) could change the index."""
        from indexer.discover import ALWAYS_SKIPPED_DIRS, root_rules
        from indexer.secrets import is_secret_file

        try:
            rel = Path(path).resolve().relative_to(self.repo).as_posix()
        except ValueError:
            return False
        parts = rel.split("/")
        if rel == "." or any(part in ALWAYS_SKIPPED_DIRS for part in parts):
            return False
        if parts[-1] in IGNORE_FILES:
            self._rules.clear()
            return True
        if not self.settings.index_secrets and is_secret_file(parts[-1]):
            return False
        rules = self._rules.get("")
        if rules is None:
            rules = self._rules[""] = root_rules(self.repo, self.settings)
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if rules.ignored(directory, is_dir=True):
                return False
            child = self._rules.get(directory)
            if child is None:
                child = self._rules[directory] = rules.child(directory, self.repo / directory)
            rules = child
        return not rules.ignored(rel, is_dir=False)

    def __call__(self, _change: Any, path: str) -> bool:
        return self.relevant(path)


# --------------------------------------------------------------------------- the watcher


@dataclass(frozen=True)
class FreshnessEvent:
    """What the watcher did, for a status line or a log.

    ``phase`` is ``refreshing`` (a refresh started, ``files`` changed paths), ``bm25``
    (searchable: ``files`` re-indexed or deleted), ``vectors`` (embeddings caught up),
    ``busy`` (another process is indexing; retried), ``missing`` (no index to refresh)
    or ``error``.
    """

    phase: str
    files: int = 0
    message: str = ""


EventCallback = Callable[[FreshnessEvent], None]


class IndexWatcher:
    """Re-index changed files in the background while a front end runs (see the module docstring).

    ``embeddings`` (default: ``settings.embeddings``) allows the vector pass; it runs only
    when the index already has vectors, so a BM25-only index stays BM25-only.
    """

    def __init__(self, repo: Path, settings: IndexSettings, *, on_event: EventCallback | None = None,
                 embeddings: bool | None = None, step_ms: int = STEP_MS, debounce_ms: int = DEBOUNCE_MS) -> None:
        self.repo = repo.resolve()
        self.settings = settings
        self.on_event = on_event
        self.embeddings = settings.embeddings if embeddings is None else embeddings
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.filter = IgnoreFilter(self.repo, settings)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._vector_cancel = threading.Event()
        self._pending_lock = threading.Lock()
        self._pending: set[str] = set()
        self._threads: list[threading.Thread] = []
        self.refreshes = 0  # finished BM25 refreshes (for status lines and tests)
        self._vectors_owed = False  # BM25 changed chunks whose vectors are not computed yet

    # ------------------------------------------------------------ lifecycle

    def start(self, *, catch_up: bool = True) -> IndexWatcher:
        """Start watching; ``catch_up`` first indexes what changed while nothing was watching."""
        if self._threads:
            return self
        if catch_up:
            self._queue({"(start)"})
        self._threads = [
            threading.Thread(target=self._watch, name="index-watch", daemon=True),
            threading.Thread(target=self._work, name="index-refresh", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both threads; a running refresh stops at its next commit (nothing is lost)."""
        self._stop.set()
        self._vector_cancel.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # ------------------------------------------------------------ threads

    def _queue(self, paths: set[str]) -> None:
        with self._pending_lock:
            self._pending |= paths
        self._vector_cancel.set()  # BM25 of the new changes goes first
        self._wake.set()

    def _watch(self) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(self.repo, watch_filter=self.filter, step=self.step_ms,
                                            debounce=self.debounce_ms, stop_event=self._stop,
                                            raise_interrupt=False):
                self._queue({path for _change, path in changes})
        except Exception as exc:  # a vanished repository, inotify limits...: say so, keep serving
            log.warning("file watcher stopped: %s", exc)
            self._emit(FreshnessEvent("error", 0, f"file watcher stopped: {exc}"))

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._pending_lock:
                paths, self._pending = self._pending, set()
            if not paths:
                continue
            try:
                self._refresh(paths)
            except IndexLockedError:
                self._emit(FreshnessEvent("busy", len(paths), "another process is indexing; retrying"))
                with self._pending_lock:
                    self._pending |= paths
                if self._stop.wait(BUSY_RETRY_S):
                    return
                self._wake.set()
            except Exception as exc:  # never let the watcher take the front end down
                log.exception("background refresh failed")
                self._emit(FreshnessEvent("error", len(paths), f"refresh failed: {exc}"))

    def _refresh(self, paths: set[str]) -> None:
        from indexer import store
        from indexer.pipeline import index_repository

        if not store.db_path(self.repo).is_file():
            self._emit(FreshnessEvent("missing", len(paths), "no index yet: run `repo-assistant index`"))
            return
        changed = len(paths - {"(start)"})
        self._emit(FreshnessEvent("refreshing", changed, f"refreshing after {changed} changed path(s)" if changed
                                  else "catching up with changes made while nothing was watching"))
        stats = index_repository(self.repo, self.settings, embeddings=False, cancel=self._stop)
        self.refreshes += 1
        done = stats.files_indexed + stats.files_deleted
        self._vectors_owed = self._vectors_owed or done > 0
        self._emit(FreshnessEvent("bm25", done, f"{done} file(s) re-indexed; search is up to date"))
        if not (self._vectors_owed and self.embeddings and self._has_vectors()):
            return
        self._vector_cancel.clear()
        with self._pending_lock:
            if self._pending or self._stop.is_set():  # newer changes: their BM25 pass first, vectors after
                return
        vectors = index_repository(self.repo, self.settings, embeddings=True, cancel=self._vector_cancel)
        if not vectors.cancelled:
            self._vectors_owed = False
            self._emit(FreshnessEvent("vectors", vectors.chunks_embedded, "vectors up to date"))

    def _has_vectors(self) -> bool:
        from indexer import store

        with contextlib.closing(store.connect(store.db_path(self.repo))) as conn:
            state = store.get_meta(conn, "vector_state")
        return bool(state and state.get("points"))

    def _emit(self, event: FreshnessEvent) -> None:
        log.info("index watcher: %s %s", event.phase, event.message)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a front end's callback must not stop the watcher
                log.exception("freshness callback failed")


__all__ = ["FreshnessCheck", "FreshnessEvent", "IgnoreFilter", "IndexWatcher", "RefreshReport"]
