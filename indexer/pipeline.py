"""One indexing run: discover → chunk → BM25 (committed) → embeddings → vectors (published).

Incremental by design (as in Continue's refresh engine): each candidate file is
compared with the manifest by size and mtime, then by content hash; only new,
changed and deleted files cost work.  Chunking results are committed in batches,
each one SQLite transaction holding the files' manifest rows, chunks, symbols and
BM25 postings, so a run killed at any point leaves a consistent index and the next
run picks up exactly the files that are still stale.  BM25 is complete and
searchable before embedding starts (the progress events say so); vectors come from
a content-hash cache when the same text was embedded before (renames, moved code,
resumed runs), and are published to the vector store atomically at the end (and
every couple of minutes during long runs).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from base.config import IndexSettings
from indexer import store, walkstate
from indexer.bm25 import Bm25Writer, DocTerms
from indexer.chunker import CHUNKER_VERSION, chunk_file
from indexer.discover import Candidate, discover
from indexer.embed_text import EMBED_TEXT_VERSION, embedding_text  # embedding_text: also this module's API
from indexer.keyword_points import KeywordSync, check_settings, count_bm25_change
from indexer.languages import detect_language
from indexer.lock import index_lock
from indexer.progress import ProgressCallback, ProgressEvent, emit
from indexer.secrets import redact
from indexer.tokenize import bm25_tokens  # also this module's API (benches and tests import it here)
from indexer.types import IndexStats, SkippedFile
from indexer.vector_cache import SharedVectorCache, open_shared_cache

log = logging.getLogger(__name__)

# A kill -9 loses at most this much chunking; each commit is one BM25 segment, and a cold run that
# commits more than bm25.MAX_SEGMENTS times pays a merge at the end (15 s on 382K chunks): at 3 s
# a 75 s run was at 25 of 32, and any slower machine went over.
COMMIT_EVERY_S = 10.0
COMMIT_EVERY_FILES = 1000
PUBLISH_EVERY_S = 120.0
EMBED_GROUP = 512
SNIFF_BYTES = 8192
PARALLEL_MIN_FILES = 200  # below this, starting worker processes costs more than it saves
CHUNK_WORKERS = 2
# The writer's SQLite page cache (KiB; the default is 2 MiB).  Chunk ids and BM25 doc ids are
# hashes, so their indexes take inserts all over the B-tree: with 2 MiB nearly every insert of a
# cold run re-read a page from the OS (a fifth of the indexing process's CPU, as system time).
WRITE_CACHE_KIB = 65536


@dataclass
class _Processed:
    """One new or changed file, ready to commit."""

    candidate: Candidate
    digest: str
    language: str
    status: str  # "indexed" or "skipped"
    reason: str = ""
    chunks: store.PackedChunks | None = None  # packed here, in the worker (see PackedChunks)
    symbols: store.PackedSymbols | None = None
    terms: DocTerms | None = None  # the chunks' BM25 term counts, one document per chunk
    replaced: bool = False
    redacted: int = 0


def _process(cand: Candidate, old_hash: str | None, settings: IndexSettings) -> _Processed:
    """Read, hash, sniff, decode, redact and chunk one file (runs in a worker process for big runs)."""
    try:
        data = cand.abspath.read_bytes()
    except OSError as exc:
        return _Processed(cand, "", detect_language(cand.path), "skipped", f"unreadable ({exc.strerror})")
    digest = hashlib.sha1(data).hexdigest()
    language = detect_language(cand.path)
    if old_hash == digest:
        return _Processed(cand, digest, language, "unchanged")
    if b"\0" in data[:SNIFF_BYTES]:
        return _Processed(cand, digest, language, "skipped", "binary")
    try:
        text = data.decode("utf-8")
        replaced = False
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        replaced = True
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    language = detect_language(cand.path, text)  # a C++ header is cpp, not c
    redacted = 0
    if not settings.index_secrets:
        redaction = redact(text)
        text = redaction.text
        redacted = redaction.lines
    if not text.strip():
        return _Processed(cand, digest, language, "skipped", "empty")
    result = chunk_file(cand.path, text, language, settings.chunk_tokens)
    # tokenized here, in the worker: in the indexing process it was most of a cold run's serial work
    terms = DocTerms.count([bm25_tokens(c) for c in result.chunks])
    return _Processed(cand, digest, language, "indexed", chunks=store.pack_chunks(result.chunks),
                      symbols=store.pack_symbols(result.symbols), terms=terms, replaced=replaced, redacted=redacted)


def _worker_init(owner: int) -> None:
    """Chunking workers exit as soon as the indexing process is gone (even after kill -9): no orphans.

    The parent pid is not enough: forkserver workers are children of the fork server, which
    their own pipes keep alive.  So they watch the process that owns the pool.
    """

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                continue

    threading.Thread(target=watch, daemon=True, name="owner-watch").start()


def _process_star(args: tuple[Candidate, str | None, IndexSettings]) -> _Processed:
    return _process(*args)


_HELPERS_LOCK = threading.Lock()


def _start_process_helpers() -> None:
    """Start multiprocessing's resource tracker and fork server with a stderr they can pass on.

    The resource tracker hands ``sys.stderr.fileno()`` to its child process.  While a
    Textual app runs, ``sys.stderr`` is Textual's print capture, whose ``fileno()`` is -1,
    and ``fork_exec`` refuses it (``ValueError: bad value(s) in fds_to_keep``): the TUI
    could not index a repository big enough for worker processes.  Both helpers start
    once per process, so pointing ``sys.stderr`` at the real one for that start (as
    Textual's own ``App.suspend`` does) serves every later pool.
    """
    import multiprocessing
    import sys
    from multiprocessing import forkserver, resource_tracker

    with _HELPERS_LOCK:
        # The fork server imports the chunking code once, so every worker forked from it starts
        # ready instead of importing numpy, tree-sitter and the grammars itself (only where the
        # server is not running yet; a preload that fails to import is skipped by the server).
        multiprocessing.set_forkserver_preload(["indexer.pipeline"])
        stream = sys.stderr
        try:
            usable = stream is None or stream.fileno() >= 0
        except (AttributeError, OSError, ValueError):
            usable = True  # no descriptor at all: the tracker leaves it out by itself
        if not usable and sys.__stderr__ is not None:
            sys.stderr = sys.__stderr__
        try:
            resource_tracker.ensure_running()
            forkserver.ensure_running()
        finally:
            if sys.stderr is not stream and sys.stderr is sys.__stderr__:
                sys.stderr = stream


def _start_helpers_in_background() -> None:
    """:func:`_start_process_helpers` ahead of need, in a thread; a failure shows when workers are asked for."""

    def start() -> None:
        with contextlib.suppress(OSError, ValueError, ImportError, RuntimeError):
            _start_process_helpers()

    threading.Thread(target=start, daemon=True, name="fork-server").start()


def _chunk_in_workers(
        jobs: list[tuple[Candidate, str | None, IndexSettings]]) -> tuple[Any, Iterator[_Processed]] | None:
    """A process pool chunking ``jobs`` and its results in order; ``None`` when processes cannot start.

    Where worker processes cannot be started (no usable stderr, no POSIX semaphores in a
    sandbox), the caller chunks in this process: slower, same results.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(CHUNK_WORKERS, os.cpu_count() or 1)
    pool = None
    try:
        _start_process_helpers()
        # forkserver, not fork: workers must not inherit the index lock's descriptor (a killed
        # run would stay "locked" by its orphans) nor the threads of torch or the TUI.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=_worker_init, initargs=(os.getpid(),))
        results = pool.map(_process_star, jobs, chunksize=8)
    except (OSError, ValueError, ImportError, RuntimeError) as exc:
        log.warning("worker processes unavailable (%s): chunking in this process", exc)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return None
    log.info("chunking %d files in %d worker processes", len(jobs), workers)
    return pool, results


_VENDORED = frozenset({"vendor", "vendored", "_vendor", "third_party", "thirdparty", "third-party", "node_modules",
                       "external", "extern", "site-packages", "dist-packages"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})
_DOC_DIRS = frozenset({"doc", "docs", "documentation", "examples", "example"})
_DOC_SUFFIXES = (".md", ".rst", ".txt", ".adoc")


def embed_priority(path: str) -> int:
    """0 source, 1 tests, 2 docs and examples, 3 vendored code: the order chunks are embedded in.

    Embedding a kernel-sized tree takes most of an hour on a CPU, and vector search works on
    whatever is published so far, so the code people ask about comes first.
    """
    parts = path.lower().split("/")
    if _VENDORED.intersection(parts[:-1]):
        return 3
    name = parts[-1]
    if name.endswith(_DOC_SUFFIXES) or _DOC_DIRS.intersection(parts[:-1]):
        return 2
    stem = name.rsplit(".", 1)[0]
    if _TEST_DIRS.intersection(parts[:-1]) or stem.startswith("test_") or stem.endswith(("_test", "_tests")) \
            or name == "conftest.py":
        return 1
    return 0


def index_repository(
    repo: Path,
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    embeddings: bool | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    cancel: threading.Event | None = None,
    wait: bool = False,
) -> IndexStats:
    """Bring ``<repo>/.repo-assistant/index`` up to date and return what was done.

    Raises :class:`IndexLockedError` when another process is indexing (unless ``wait``).
    ``embeddings`` overrides ``settings.embeddings``; ``cancel`` stops the run early,
    keeping everything committed so far.
    """
    repo = Path(repo).resolve()
    check_settings(settings)  # before any work: a keyword side without a server is a configuration error
    with index_lock(repo, wait=wait):
        return _Run(repo, settings, rebuild=rebuild,
                    embeddings=settings.embeddings if embeddings is None else embeddings,
                    progress=progress, cancel=cancel or threading.Event()).run()


class _Run:
    def __init__(self, repo: Path, settings: IndexSettings, *, rebuild: bool, embeddings: bool,
                 progress: ProgressCallback | None, cancel: threading.Event) -> None:
        self.repo = repo
        self.settings = settings
        self.rebuild = rebuild
        self.embeddings = embeddings
        self.progress = progress
        self.cancel = cancel
        self.stats = IndexStats()
        self.started = time.perf_counter()
        self.conn: sqlite3.Connection | None = None
        self.vocab: dict[str, int] = {}  # BM25 term ids looked up or assigned during this run

    # ------------------------------------------------------------------ setup

    def _open(self) -> sqlite3.Connection:
        path = store.db_path(self.repo)
        if self.rebuild:
            store.wipe_index(self.repo)
            self.stats.message = "rebuilt from scratch (--rebuild)"
        elif path.exists():
            try:
                conn = store.connect(path)
                conn.executescript("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
                version = store.get_meta(conn, "format_version")
                conn.close()
            except sqlite3.DatabaseError:
                version = "unreadable"
            if version is not None and version != store.INDEX_FORMAT_VERSION:
                store.wipe_index(self.repo)
                self.stats.message = (f"index format {version} != {store.INDEX_FORMAT_VERSION}: "
                                      "rebuilt from scratch")
                emit(self.progress, "discovering", message=self.stats.message)
        store.index_dir(self.repo).mkdir(parents=True, exist_ok=True)
        conn = store.connect(path)
        conn.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")  # this connection only: it is the run's
        store.create_schema(conn)
        return conn

    def _fingerprint(self) -> dict[str, Any]:
        return {"chunker": CHUNKER_VERSION, "chunk_tokens": self.settings.chunk_tokens,
                "index_secrets": self.settings.index_secrets}

    # ------------------------------------------------------------------ the run

    def run(self) -> IndexStats:
        conn = self.conn = self._open()
        try:
            self._index_files(conn)
            if self.settings.qdrant_keywords and not self.cancel.is_set():
                self._sync_keywords(conn)
            if self.embeddings and not self.cancel.is_set():
                self._sync_vectors(conn)
            self.stats.seconds_by_phase["total"] = round(time.perf_counter() - self.started, 3)
            self.stats.vector_points = int((store.get_meta(conn, "vector_state") or {}).get("points", 0))
            with store.transaction(conn):
                store.set_meta(conn, "last_run", _stats_json(self.stats) | {"finished_at": time.time()})
            emit(self.progress, "done", message="cancelled" if self.stats.cancelled else "index up to date")
            return self.stats
        finally:
            conn.close()

    def _phase(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.stats.seconds_by_phase[name] = round(self.stats.seconds_by_phase.get(name, 0.0) + now - since, 3)
        return now

    def _index_files(self, conn: sqlite3.Connection) -> None:
        t = time.perf_counter()
        emit(self.progress, "discovering", message=f"walking {self.repo}")
        manifest = {row[0]: row[1:] for row in conn.execute(
            "SELECT path, size, mtime_ns, hash, status, chunk_ids FROM files")}
        # A first run of a big tree chunks in worker processes: once the walk has found enough files
        # for them, their fork server starts loading the chunking code while the walk goes on.
        early = (PARALLEL_MIN_FILES, _start_helpers_in_background) \
            if not manifest and (os.cpu_count() or 1) > 1 else None
        found = walkstate.replay(conn, self.repo, self.settings, manifest) or \
            discover(self.repo, self.settings, on_many=early)
        self.stats.files_seen = len(found.files)
        emit(self.progress, "discovering", len(found.files), len(found.files),
             f"{len(found.files)} files, {len(found.skipped)} skipped")
        force_all = store.get_meta(conn, "fingerprint") != self._fingerprint()
        stale: list[Candidate] = []
        unchanged = 0
        for cand in found.files:
            row = manifest.get(cand.path)
            if row is not None and not force_all and (row[0], row[1]) == (cand.size, cand.mtime_ns):
                unchanged += 1
            else:
                stale.append(cand)
        present = {c.path for c in found.files}
        deleted = [p for p in manifest if p not in present]
        if stale or deleted or force_all:  # the recorded walk no longer vouches for the manifest
            with store.transaction(conn):
                walkstate.forget(conn)
        t = self._phase("discovering", t)

        skipped: list[SkippedFile] = list(found.skipped)
        batch: list[_Processed] = []
        touched: list[tuple[Candidate, str]] = []  # same content, new mtime: manifest-only update
        last_commit = time.perf_counter()
        pending_deletes = deleted
        emit(self.progress, "chunking", 0, len(stale), f"{len(stale)} new or changed, {len(deleted)} deleted")
        jobs = [(cand, None if force_all or cand.path not in manifest else manifest[cand.path][2], self.settings)
                for cand in stale]
        pool = None
        parallel = _chunk_in_workers(jobs) if len(jobs) >= PARALLEL_MIN_FILES and (os.cpu_count() or 1) > 1 \
            else None
        if parallel is not None:
            pool, results = parallel
        else:
            results = map(_process_star, jobs)
        try:
            for done, processed in enumerate(results, start=1):
                cand = processed.candidate
                if processed.status == "unchanged":
                    touched.append((cand, processed.digest))
                    unchanged += 1
                else:
                    batch.append(processed)
                    if processed.status == "skipped":
                        skipped.append(SkippedFile(cand.path, processed.reason))
                    else:
                        self.stats.files_indexed += 1
                        self.stats.redacted_lines += processed.redacted
                        self.stats.replaced_characters += int(processed.replaced)
                if (time.perf_counter() - last_commit > COMMIT_EVERY_S or len(batch) >= COMMIT_EVERY_FILES) \
                        and batch:
                    self._commit(conn, batch, touched, pending_deletes, manifest)
                    batch, touched, pending_deletes = [], [], []
                    last_commit = time.perf_counter()
                emit(self.progress, "chunking", done, len(stale), cand.path)
                if self.cancel.is_set():
                    self.stats.cancelled = True
                    break
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if batch or touched or pending_deletes or force_all or not store.get_meta(conn, "generation"):
            self._commit(conn, batch, touched, pending_deletes, manifest)
        t = self._phase("chunking", t)
        known = {s.path for s in skipped}
        skipped.extend(SkippedFile(path, status.split(":", 1)[1]) for path, status in
                       conn.execute("SELECT path, status FROM files WHERE status LIKE 'skipped:%'")
                       if path not in known)
        with store.transaction(conn):
            if not self.stats.cancelled:
                conn.execute("DELETE FROM skipped")
                conn.executemany("INSERT OR REPLACE INTO skipped(path, reason) VALUES (?, ?)",
                                 [(s.path, s.reason) for s in skipped])
                store.set_meta(conn, "fingerprint", self._fingerprint())
                walkstate.record(conn, found, self.settings)
            if Bm25Writer(conn, self.vocab).maybe_merge():
                store.bump_generation(conn)
        for s in skipped:
            self.stats.skipped[s.reason] = self.stats.skipped.get(s.reason, 0) + 1
        self.stats.files_unchanged = unchanged
        self.stats.files_deleted = len(deleted)
        for language, count in conn.execute(
                "SELECT language, SUM(n_chunks) FROM files WHERE n_chunks > 0 GROUP BY language"):
            self.stats.chunks_by_language[language] = int(count)
        self.stats.chunks_total = sum(self.stats.chunks_by_language.values())
        self._phase("bm25", t)
        self.stats.bm25_ready_s = round(time.perf_counter() - self.started, 3)
        emit(self.progress, "bm25", self.stats.chunks_total, self.stats.chunks_total,
             f"BM25 search ready ({self.stats.chunks_total} chunks)"
             + ("; computing embeddings…" if self.embeddings and not self.cancel.is_set() else ""))

    def _commit(self, conn: sqlite3.Connection, batch: list[_Processed], touched: list[tuple[Candidate, str]],
                deleted: list[str], manifest: dict[str, tuple[Any, ...]]) -> None:
        """One transaction: remove old chunks of changed/deleted files, add the new ones everywhere."""
        with store.transaction(conn):
            bm25 = Bm25Writer(conn, self.vocab)
            old_ids: list[str] = []
            replaced = [*deleted, *(p.candidate.path for p in batch)]
            for path in replaced:
                row = manifest.get(path)
                if row is not None:
                    old_ids.extend(store.json_list(row[4]))
            gone = list(deleted)
            if old_ids:
                # their tokens leave the BM25 document frequencies (recomputed from the stored text)
                old = store.fetch_chunks(conn, old_ids)
                bm25.delete(list(old), [bm25_tokens(c) for c in old.values()], save=False)
            store.delete_chunks(conn, replaced, old_ids)
            for path in gone:
                conn.execute("DELETE FROM files WHERE path = ?", (path,))
            for path in replaced:
                if path in manifest:  # a file new to the index has no symbols yet (most of a cold run's files)
                    store.delete_symbols(conn, path)
            new_ids: list[str] = []
            ids_json: list[str] = []  # each file's chunk ids, for its row and the in-memory manifest
            for item in batch:
                cand = item.candidate
                ids = item.chunks.ids if item.chunks is not None else []
                new_ids.extend(ids)
                ids_json.append(store.list_json(ids))
                conn.execute(
                    "INSERT OR REPLACE INTO files(path, size, mtime_ns, hash, language, status, chunk_ids, n_chunks,"
                    " replaced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (cand.path, cand.size, cand.mtime_ns, item.digest, item.language,
                     item.status if item.status == "indexed" else f"skipped:{item.reason}",
                     ids_json[-1], len(ids), int(item.replaced)))
            store.write_symbols(conn, [(item.candidate.path, item.language, item.symbols) for item in batch
                                       if item.symbols is not None])
            store.insert_chunks(conn, [(item.candidate.path, item.chunks) for item in batch if item.chunks is not None])
            bm25.add_counted(new_ids,  # saves df, N, mean idf; the files' old chunks were deleted above
                             DocTerms.concat([item.terms for item in batch if item.terms is not None]),
                             known_new=True)
            if old_ids or new_ids:
                count_bm25_change(conn)  # a Qdrant copy of the keyword side is stale until it catches up
            for cand, digest in touched:
                conn.execute("UPDATE files SET size = ?, mtime_ns = ?, hash = ? WHERE path = ?",
                             (cand.size, cand.mtime_ns, digest, cand.path))
            if store.get_meta(conn, "fingerprint") is None:
                # a fresh index holds nothing chunked under other settings: an interrupted first run
                # must resume file by file, not start over
                store.set_meta(conn, "fingerprint", self._fingerprint())
            store.bump_generation(conn)
        for item, chunk_ids in zip(batch, ids_json, strict=True):
            manifest[item.candidate.path] = (item.candidate.size, item.candidate.mtime_ns, item.digest,
                                             item.status, chunk_ids)
        for path in deleted:
            manifest.pop(path, None)

    # ------------------------------------------------------------------ keywords in Qdrant

    def _sync_keywords(self, conn: sqlite3.Connection) -> None:
        """BM25 is committed: copy what changed to the Qdrant server as sparse vectors (indexer.keyword_points)."""
        t = time.perf_counter()
        sync = KeywordSync(conn, self.repo, self.settings, self.progress, self.cancel)
        self.stats.keyword_points = sync.run()
        if self.cancel.is_set():
            self.stats.cancelled = True
        if sync.recreated and not self.stats.message:
            self.stats.message = "keyword collection in Qdrant uploaded in full (new, or the mean chunk length moved)"
        self._phase("keywords", t)

    # ------------------------------------------------------------------ vectors

    def _sync_vectors(self, conn: sqlite3.Connection) -> None:
        from indexer.embedder import load_embedder
        from indexer.vectors import collection_name, open_writer

        t = time.perf_counter()
        settings = self.settings
        steps = 0

        def model_step(message: str) -> None:  # the first run exports the embedder to ONNX (~1 min)
            nonlocal steps
            steps += 1
            emit(self.progress, "model", steps, 0, message)

        embedder = load_embedder(settings.embedding_model, backend=settings.embedding_backend,
                                 threads=settings.threads, max_tokens=settings.embed_max_tokens, progress=model_step,
                                 device=settings.embedding_device)
        model_key = f"{settings.embedding_model}|{embedder.fingerprint}|{embedder.max_tokens}|t{EMBED_TEXT_VERSION}"
        collection = collection_name(self.repo, settings.embedding_model, embedder.dim)
        state: dict[str, Any] | None = store.get_meta(conn, "vector_state")
        wanted_store = {"store": "server", "url": settings.qdrant_url} if settings.qdrant_url else {"store": "edge"}
        compatible = bool(state) and state.get("model_key") == model_key and \
            state.get("collection") == collection and all(state.get(k) == v for k, v in wanted_store.items())
        if not compatible:
            with store.transaction(conn):
                conn.execute("DELETE FROM vec_points")
        present = dict(conn.execute("SELECT chunk_id, cache_key FROM vec_points"))
        # Source before tests, docs and vendored code, the most recently modified files first
        # (the ones the user is working on); the embedder sorts each group by length itself.
        order = {cid: (embed_priority(path), -mtime, path, start) for cid, path, start, mtime in conn.execute(
            "SELECT c.id, cf.path, c.start_line, COALESCE(f.mtime_ns, 0) FROM chunks c "
            "JOIN chunk_files cf ON cf.id = c.file_id LEFT JOIN files f ON f.path = cf.path")}  # no text read
        to_add = sorted((cid for cid in order if cid not in present), key=order.__getitem__)
        to_delete = [cid for cid in present if cid not in order]
        t = self._phase("embedding", t)
        if compatible and not to_add and not to_delete:
            emit(self.progress, "embedding", 0, 0, "vectors up to date")
            return
        writer = open_writer(self.repo, settings, collection, embedder.dim, state if compatible else None,
                             reset=not compatible)
        previous_snapshot = state.get("snapshot") if compatible and state else None
        added: list[tuple[str, str]] = []
        last_publish = time.perf_counter()
        shared = open_shared_cache(settings.shared_vector_cache_mb)
        try:
            writer.delete(to_delete)
            emit(self.progress, "embedding", 0, len(to_add), "BM25 search is ready; embedding chunks")
            for start in range(0, len(to_add), EMBED_GROUP):
                if self.cancel.is_set():
                    self.stats.cancelled = True
                    break
                ids = to_add[start:start + EMBED_GROUP]
                found = store.fetch_chunks(conn, ids)
                chunks = [found[c] for c in ids if c in found]
                texts = [embedding_text(c) for c in chunks]
                keys = [_cache_key(model_key, text) for text in texts]
                vectors = self._vectors_for(conn, embedder, shared, texts, keys)
                writer.upsert(chunks, vectors)
                added.extend((c.id, k) for c, k in zip(chunks, keys, strict=True))
                emit(self.progress, "embedding", min(start + EMBED_GROUP, len(to_add)), len(to_add),
                     "BM25 search is ready; embedding chunks")
                if time.perf_counter() - last_publish > PUBLISH_EVERY_S and start + EMBED_GROUP < len(to_add):
                    previous_snapshot = self._publish(conn, writer, added, to_delete, collection, model_key,
                                                      embedder, previous_snapshot)
                    added, to_delete = [], []
                    writer = open_writer(self.repo, settings, collection, embedder.dim,
                                         store.get_meta(conn, "vector_state"))
                    last_publish = time.perf_counter()
            self._publish(conn, writer, added, to_delete, collection, model_key, embedder, previous_snapshot)
        except BaseException:
            writer.abort()
            raise
        finally:
            if shared is not None:
                shared.close()
        self._phase("embedding", t)

    def _publish(self, conn: sqlite3.Connection, writer: Any, added: list[tuple[str, str]], deleted: list[str],
                 collection: str, model_key: str, embedder: Any, previous: str | None) -> str | None:
        points = writer.count()
        fields = writer.publish()
        state = {**fields, "collection": collection, "model": self.settings.embedding_model,
                 "backend": self.settings.embedding_backend, "flavour": embedder.flavour, "dim": embedder.dim,
                 "model_key": model_key, "points": points}
        with store.transaction(conn):
            for start in range(0, len(deleted), 500):
                part = deleted[start:start + 500]
                conn.execute(f"DELETE FROM vec_points WHERE chunk_id IN ({','.join('?' * len(part))})", part)
            conn.executemany("INSERT OR REPLACE INTO vec_points(chunk_id, cache_key) VALUES (?, ?)", added)
            conn.execute("DELETE FROM vec_cache WHERE key NOT IN (SELECT cache_key FROM vec_points)")
            store.set_meta(conn, "vector_state", state)
            store.bump_generation(conn)
        snapshot = fields.get("snapshot")
        writer.cleanup([s for s in (snapshot, previous) if s])
        return snapshot

    def _vectors_for(self, conn: sqlite3.Connection, embedder: Any, shared: SharedVectorCache | None,
                     texts: list[str], keys: list[str]) -> np.ndarray:
        """Vectors from the repository's cache, then the machine's shared cache, then the model.

        Whatever did not come from the repository's cache is stored there (and new vectors in
        the shared cache too), so the next run of this repository needs neither.
        """
        cached = store.vectors_by_key(conn, "vec_cache", keys)
        from_shared = shared.get_many(k for k in keys if k not in cached) if shared else {}
        missing: dict[str, str] = {}
        for text, key in zip(texts, keys, strict=True):
            if key not in cached and key not in from_shared:
                missing.setdefault(key, text)
        fresh: list[tuple[str, bytes]] = []
        if missing:
            vectors = embedder.embed(list(missing.values()), batch_size=self.settings.embed_batch_size)
            fresh = [(key, vectors[i].astype(np.float32).tobytes()) for i, key in enumerate(missing)]
        if fresh or from_shared:
            with store.transaction(conn):
                conn.executemany("INSERT OR REPLACE INTO vec_cache(key, vec) VALUES (?, ?)",
                                 [*fresh, *from_shared.items()])
            cached.update(fresh)
            cached.update(from_shared)
        if shared and fresh:
            shared.put_many(fresh)
        self.stats.chunks_embedded += len(missing)
        self.stats.vectors_reused += len(keys) - sum(1 for k in keys if k in missing)
        if not keys:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([np.frombuffer(cached[k], dtype=np.float32) for k in keys])


def _cache_key(model_key: str, text: str) -> str:
    return hashlib.sha1(f"{model_key}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _stats_json(stats: IndexStats) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(stats)
