"""Read access to a repository's index, for retrieval, the CLI and the TUI.

Readers never block the writer and never see half a run: every committed indexing
step is one SQLite transaction (WAL mode), BM25 state is loaded inside one read
transaction, and the embedded vector store is read from an immutable published
snapshot (see :mod:`indexer.vectors`).  A reader notices a newer generation on its
next search and reloads by itself, so a long-lived TUI session follows background
re-indexing.  Chunks are immutable by id (the id hashes path, span and content), so
a chunk fetched by id is either exactly what was indexed or gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from base.config import IndexSettings
from base.errors import RetrievalError
from indexer import store
from indexer.bm25 import Bm25Searcher, lookup_terms
from indexer.tokenize import code_tokens
from indexer.types import Chunk, FileSymbols, IndexContent, SymbolDef

log = logging.getLogger(__name__)


class IndexReader:
    """A read-only view of ``<repo>/.repo-assistant/index`` (see the module docstring)."""

    def __init__(self, repo: Path, settings: IndexSettings, conn: sqlite3.Connection) -> None:
        self.repo = repo
        self.settings = settings
        self._conn = conn
        self._lock = threading.RLock()
        self._generation = -1
        self._bm25: Bm25Searcher | None = None
        self._chunks: list[Chunk] | None = None
        self._symbols: dict[str, FileSymbols] | None = None
        self._content: IndexContent | None = None
        self._vector_store: Any = None
        self._vector_key: str = ""
        self._qdrant_clients: dict[str, Any] = {}  # one per server URL, shared by vector and keyword search
        self._embedder: Any = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, repo: Path, settings: IndexSettings) -> IndexReader:
        """Open the index of ``repo``.

        Raises :class:`IndexMissingError` when there is none yet and :class:`IndexingError`
        when it was written by an incompatible version or is unreadable.
        """
        repo = Path(repo).resolve()
        conn = store.open_for_reading(repo)
        return cls(repo, settings, conn)

    def close(self) -> None:
        with self._lock:
            if self._vector_store is not None:
                self._vector_store.close()
                self._vector_store = None
            for client in self._qdrant_clients.values():
                with contextlib.suppress(Exception):
                    client.close()
            self._qdrant_clients.clear()
            self._conn.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ freshness

    @property
    def generation(self) -> int:
        """The committed generation this reader's caches reflect (after a refresh check)."""
        self._refresh()
        return self._generation

    def _refresh(self) -> None:
        with self._lock:
            generation = int(store.get_meta(self._conn, "generation") or 0)
            if generation != self._generation:
                self._generation = generation
                self._bm25 = None
                self._chunks = None
                self._symbols = None
                self._content = None

    def meta(self, key: str) -> Any:
        """A raw state value (``last_run``, ``vector_state``...), for ``status``."""
        with self._lock:
            return store.get_meta(self._conn, key)

    # ------------------------------------------------------------------ content

    def files(self) -> list[str]:
        """Indexed files (repository-relative POSIX paths), sorted."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT path FROM files WHERE status = 'indexed' ORDER BY path")]

    def file_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM files WHERE status = 'indexed'").fetchone()[0])

    def chunk_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunks_by_language(self) -> dict[str, int]:
        with self._lock:
            return {lang: int(n) for lang, n in self._conn.execute(
                "SELECT language, SUM(n_chunks) AS n FROM files WHERE n_chunks > 0 GROUP BY language "
                "ORDER BY n DESC, language")}

    def skipped(self) -> dict[str, int]:
        """Skipped files by reason, as of the last run."""
        with self._lock:
            return dict(self._conn.execute("SELECT reason, COUNT(*) FROM skipped GROUP BY reason ORDER BY reason"))

    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, ordered by path and line (loaded once per generation)."""
        self._refresh()
        with self._lock:
            if self._chunks is None:
                self._conn.execute("BEGIN")  # the id rows and the files' chunk text are one snapshot
                try:
                    self._chunks = store.all_chunks(self._conn)
                finally:
                    self._conn.execute("COMMIT")
            return self._chunks

    def chunk(self, chunk_id: str) -> Chunk | None:
        with self._lock:
            return store.fetch_chunks(self._conn, [chunk_id]).get(chunk_id)

    def chunks_for_file(self, path: str) -> list[Chunk]:
        """The chunks of one file, in line order (``[]`` for a file that is not indexed)."""
        with self._lock:
            self._conn.execute("BEGIN")  # the manifest row and the chunks it lists are one snapshot
            try:
                ids = store.chunk_ids_of(self._conn, path)
                found = store.fetch_chunks(self._conn, ids)
            finally:
                self._conn.execute("COMMIT")
        return sorted((found[cid] for cid in ids if cid in found), key=lambda c: (c.start_line, c.end_line))

    def content(self) -> IndexContent:
        """The indexed files and their content hashes, under the version that derived the data (once per generation).

        The version holds the index format and the chunking settings (a new chunker derives
        other symbols from the same bytes).  Equal digests mean equal derived data: caches keyed
        by it, such as the repo map's, survive re-indexing unchanged content and miss on any edit.
        """
        self._refresh()
        with self._lock:
            if self._content is None:
                version = f"v{store.INDEX_FORMAT_VERSION} {json.dumps(store.get_meta(self._conn, 'fingerprint'), sort_keys=True)}"
                h = hashlib.sha256(f"{version}\n".encode())
                hashes: dict[str, str] = {}
                for path, digest in self._conn.execute(
                        "SELECT path, hash FROM files WHERE status = 'indexed' ORDER BY path"):
                    hashes[path] = digest
                    h.update(f"{path}\0{digest}\n".encode())
                self._content = IndexContent(version, hashes, h.hexdigest())
            return self._content

    def content_digest(self) -> str:
        """The digest of :meth:`content`."""
        return self.content().digest

    def symbols(self) -> dict[str, FileSymbols]:
        """Per indexed file: definitions, referenced identifiers and imports (loaded once per generation).

        Looking a few names up does not need this: see :meth:`definitions_named`.
        """
        self._refresh()
        with self._lock:
            if self._symbols is None:
                self._conn.execute("BEGIN")  # definitions and the symbols rows they belong to are one snapshot
                try:
                    self._symbols = store.load_symbols(self._conn)
                finally:
                    self._conn.execute("COMMIT")
            return self._symbols

    def symbol_view(self) -> Mapping[str, FileSymbols]:
        """The symbol table as a mapping that reads a file's symbols when it is asked for.

        Building one context reads a handful of files' symbols (the active file, the files it
        imports, a definition's outline): on a kernel-sized tree that is milliseconds, while
        :meth:`symbols` decodes every file (seconds).  Once the whole table is loaded, it is
        what this returns.
        """
        self._refresh()
        with self._lock:
            if self._symbols is not None:
                return self._symbols
        return _SymbolView(self)

    def file_symbols(self, path: str) -> FileSymbols | None:
        """One indexed file's symbols (``None`` when the index has none for it), read by key."""
        with self._lock:
            if self._symbols is not None:
                return self._symbols.get(path)
            self._conn.execute("BEGIN")  # the symbols row and its definitions are one snapshot
            try:
                return store.load_file_symbols(self._conn, path)
            finally:
                self._conn.execute("COMMIT")

    def definitions_named(self, names: Iterable[str]) -> list[SymbolDef]:
        """Every definition a name in ``names`` may refer to, by path then source order, read by index.

        The candidates of a name are the definitions whose simple or qualified name ends in the
        same last dotted part, ignoring case (see :func:`indexer.store.name_key`): a superset of
        the exact, case-insensitive, qualified and qualified-suffix matches, from which callers keep
        the kind they want.  This is a query's worth of work; :meth:`symbols` loads everything.
        """
        with self._lock:
            return store.definitions_by_keys(self._conn, (store.name_key(n) for n in names))

    def files_with_basename(self, basename: str) -> list[str]:
        """Indexed files whose last path component is ``basename``, sorted (read by index)."""
        with self._lock:
            return store.files_with_basename(self._conn, basename)

    # ------------------------------------------------------------------ BM25

    def _load_bm25_locked(self) -> Bm25Searcher:
        """The BM25 view of the current generation; call inside a read transaction holding the lock."""
        generation = int(store.get_meta(self._conn, "generation") or 0)
        if generation != self._generation:
            self._generation = generation
            self._bm25 = None
            self._chunks = None
            self._symbols = None
            self._content = None
        if self._bm25 is None:
            self._bm25 = Bm25Searcher(self._conn)
        return self._bm25

    def bm25_search(self, query: str, k: int = 20) -> list[tuple[Chunk, float]]:
        """Chunks ranked by BM25 (rank-bm25's BM25Okapi scores) for a natural-language or code query."""
        return self.bm25_search_tokens(code_tokens(query), k)

    def bm25_search_tokens(self, tokens: list[str], k: int = 20) -> list[tuple[Chunk, float]]:
        """BM25 over already-tokenized terms; a token repeated n times weighs n times.

        With ``index.qdrant_keywords`` and a Qdrant copy that matches the committed BM25, the
        server ranks (same scores, see :mod:`indexer.keyword_points`); if it fails, the local
        postings answer, with a warning.
        """
        if k <= 0 or not tokens:
            return []
        with self._lock:
            # One read transaction: the postings, the generation and the chunk rows are one snapshot,
            # so a writer committing in between can never make hits vanish.
            self._conn.execute("BEGIN")
            try:
                term_counts = lookup_terms(self._conn, tokens)
                ranked = self._server_bm25_locked(term_counts, k)
                if ranked is None:
                    ranked = self._load_bm25_locked().top(self._conn, term_counts, k)
                found = store.fetch_chunks(self._conn, [cid for cid, _ in ranked])
            finally:
                self._conn.execute("COMMIT")
        return [(found[cid], score) for cid, score in ranked if cid in found][:k]

    def keyword_copy(self) -> dict[str, Any] | None:
        """The Qdrant copy of the keyword side (``index.qdrant_keywords``): where, how many points, and
        ``caught_up`` (it holds every committed BM25 change); ``None`` when there is none."""
        from indexer import keyword_points

        with self._lock:
            state = store.get_meta(self._conn, "keyword_state")
            if not state:
                return None
            return {**state, "caught_up": keyword_points.caught_up(self._conn, state)}

    def _server_bm25_locked(self, term_counts: dict[int, int], k: int) -> list[tuple[str, float]] | None:
        """The Qdrant server's BM25 ranking, or ``None`` when it is off, stale or failing (local postings then)."""
        from indexer import keyword_points

        state = keyword_points.usable_state(self._conn, self.settings)
        if state is None:
            return None
        try:
            return keyword_points.search(self._conn, self._qdrant_client(state["url"]), state["collection"],
                                         term_counts, k)
        except Exception as exc:  # any server failure: the local index is complete
            log.warning("Qdrant keyword search at %s failed (%s: %s); answering from the local BM25 index",
                        state["url"], type(exc).__name__, exc)
            return None

    def _qdrant_client(self, url: str) -> Any:
        """One client per server URL for this reader (qdrant-client's local mode allows one per directory)."""
        from indexer.vectors import make_client

        with self._lock:
            if url not in self._qdrant_clients:
                self._qdrant_clients[url] = make_client(url, self.settings.qdrant_api_key)
            return self._qdrant_clients[url]

    # ------------------------------------------------------------------ vectors

    @property
    def has_vectors(self) -> bool:
        state = self.meta("vector_state")
        return bool(state and state.get("points"))

    def vector_search(self, query: str, k: int = 20, paths: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Chunks ranked by cosine similarity to ``query`` embedded with the index's own model.

        ``paths`` restricts the search to those files (a payload-index filter in Qdrant).
        """
        if k <= 0:
            return []
        state = self.meta("vector_state")
        if not state or not state.get("points"):
            raise RetrievalError("this index has no vectors yet",
                                 hint="run `repo-assistant index` with embeddings enabled, or use --mode bm25")
        vector = self._embed_query(query, state)
        hits = self._vector_store_for(state).search(vector, k, paths)
        with self._lock:
            found = store.fetch_chunks(self._conn, [cid for cid, _ in hits])
        return [(found[cid], score) for cid, score in hits if cid in found][:k]

    def _embed_query(self, query: str, state: dict[str, Any]) -> list[float]:
        from indexer.embedder import load_embedder

        with self._lock:
            if self._embedder is None or self._embedder.model_name != state["model"]:
                self._embedder = load_embedder(state["model"], backend=state.get("backend", "auto"),
                                               threads=self.settings.threads,
                                               max_tokens=self.settings.embed_max_tokens)
            return self._embedder.embed_query(query).tolist()

    def _vector_store_for(self, state: dict[str, Any]) -> Any:
        from indexer.vectors import open_reader_store

        key = repr(sorted(state.items()))
        with self._lock:
            if self._vector_store is None or self._vector_key != key:
                if self._vector_store is not None:
                    self._vector_store.close()
                self._vector_store = open_reader_store(self.repo, state, self.settings, self._qdrant_client)
                self._vector_key = key
            return self._vector_store

    def set_embedding_threads(self, threads: int) -> None:
        """Limit the query embedder's CPU threads (the TUI sets 1 while the LLM generates)."""
        with self._lock:
            self.settings.threads = threads
            if self._embedder is not None:
                self._embedder.set_threads(threads)

    # ------------------------------------------------------------------ staleness

    def stale_files(self) -> list[str]:
        """Files new, changed or deleted since the last run, sorted (see :func:`indexer.staleness.stale_files`)."""
        from indexer.staleness import stale_files

        return stale_files(self._conn, self.repo, self.settings, self._lock)


class _SymbolView(Mapping[str, FileSymbols]):
    """:meth:`IndexReader.symbol_view` before the whole table is loaded: files read on demand, memoised."""

    def __init__(self, reader: IndexReader) -> None:
        self._reader = reader
        self._files: dict[str, FileSymbols | None] = {}

    def __getitem__(self, path: str) -> FileSymbols:
        if path not in self._files:
            self._files[path] = self._reader.file_symbols(path)
        found = self._files[path]
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._reader.files())

    def __len__(self) -> int:
        return self._reader.file_count()
