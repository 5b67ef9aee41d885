"""The on-disk index: one SQLite database (WAL mode) plus the embedded vector store.

Layout of ``<repo>/.repo-assistant/index/``::

    index.sqlite        manifest, chunks, symbols, BM25 segments, vector cache, state
    index.lock          held (fcntl) by the one process that writes
    qdrant/<collection>/gen-N/   published embedded Qdrant shards (see indexer.vectors)

Why one SQLite file: every indexing step that must be atomic (a file's manifest row,
its chunks, its symbols and the BM25 postings that reference them) commits in one
transaction, so a run killed at any point leaves the previous committed state, and
readers in other processes see a consistent snapshot through WAL without ever
blocking the writer.  BM25 posting lists are rows per (segment, term) holding raw
little-endian arrays (see :mod:`indexer.bm25`), the rest plain rows and JSON, so
everything is inspectable with ``sqlite3``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from base.paths import repo_data_dir
from indexer.types import Chunk, FileSymbols, SymbolDef

# Bump when the schema, the chunker or the tokenizer changes what is stored: an index
# written by another version is rebuilt, never reused.
INDEX_FORMAT_VERSION = 4  # 3-4: BM25 postings stored per (segment, term), varint doc gaps
DB_NAME = "index.sqlite"
LOCK_NAME = "index.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,
    language TEXT NOT NULL, status TEXT NOT NULL, chunk_ids TEXT NOT NULL, n_chunks INTEGER NOT NULL DEFAULT 0,
    replaced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, language TEXT NOT NULL, kind TEXT NOT NULL,
    symbol TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    start_byte INTEGER NOT NULL, end_byte INTEGER NOT NULL, header TEXT NOT NULL,
    content_hash TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE TABLE IF NOT EXISTS symbols (path TEXT PRIMARY KEY, language TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bm25_vocab (term TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bm25_segments (id INTEGER PRIMARY KEY, n_docs INTEGER NOT NULL, doc_len BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bm25_postings (seg_id INTEGER NOT NULL, term_id INTEGER NOT NULL, docs BLOB NOT NULL,
    tfs BLOB NOT NULL, PRIMARY KEY (seg_id, term_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bm25_docs (seg_id INTEGER NOT NULL, local_idx INTEGER NOT NULL, chunk_id TEXT NOT NULL,
    PRIMARY KEY (seg_id, local_idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bm25_docs_chunk ON bm25_docs(chunk_id);
CREATE TABLE IF NOT EXISTS bm25_dead (seg_id INTEGER NOT NULL, local_idx INTEGER NOT NULL,
    PRIMARY KEY (seg_id, local_idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bm25_stats (id INTEGER PRIMARY KEY, n_live INTEGER NOT NULL, idf_mean REAL NOT NULL,
    n_terms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bm25_df (id INTEGER PRIMARY KEY, df BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vec_cache (key TEXT PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vec_points (chunk_id TEXT PRIMARY KEY, cache_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS walk_state (kind TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, PRIMARY KEY (kind, path)) WITHOUT ROWID;
"""

CHUNK_COLUMNS = ("id, path, language, kind, symbol, start_line, end_line, start_byte, end_byte, "
                 "header, content_hash, text")


def index_dir(repo: Path) -> Path:
    """``<repo>/.repo-assistant/index`` (not created here)."""
    return repo_data_dir(repo) / "index"


def db_path(repo: Path) -> Path:
    return index_dir(repo) / DB_NAME


def connect(path: Path) -> sqlite3.Connection:
    """Open the database in WAL mode with explicit transactions (``BEGIN``/``COMMIT``).

    ``check_same_thread=False`` because the TUI reads from worker threads; callers
    serialise access to one connection themselves.  In a directory nobody may write
    (a read-only checkout or mount) WAL mode cannot be set up, and since no writer
    can exist there either, the index is opened read-only and immutable instead.
    """
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK) or not path.is_file():
            raise
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, timeout=30.0,
                               isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def file_hash(path: Path) -> str | None:
    """The manifest's content hash of a file (sha1 of its raw bytes, as the pipeline stores it), or None."""
    digest = hashlib.sha1()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def vector_progress(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(chunks with a published vector, vectors computed and kept for reuse)``.

    After an interrupted run the second number shows the work a resumed run will
    not redo (the repository's vector cache is committed per embedding group).
    """
    published = conn.execute("SELECT COUNT(*) FROM vec_points WHERE chunk_id IN (SELECT id FROM chunks)")
    cached = conn.execute("SELECT COUNT(*) FROM vec_cache")
    return int(published.fetchone()[0]), int(cached.fetchone()[0])


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    with transaction(conn):
        if get_meta(conn, "format_version") is None:
            set_meta(conn, "format_version", INDEX_FORMAT_VERSION)
            set_meta(conn, "generation", 0)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception (including KeyboardInterrupt)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))


def bump_generation(conn: sqlite3.Connection) -> int:
    """Every committed change bumps the generation, so readers know to reload."""
    generation = int(get_meta(conn, "generation") or 0) + 1
    set_meta(conn, "generation", generation)
    return generation


def wipe_index(repo: Path) -> None:
    """Delete everything under the index dir except the lock file (held by the caller)."""
    root = index_dir(repo)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- rows <-> dataclasses

def chunk_row(chunk: Chunk) -> tuple[Any, ...]:
    return (chunk.id, chunk.path, chunk.language, chunk.kind, chunk.symbol, chunk.start_line, chunk.end_line,
            chunk.start_byte, chunk.end_byte, chunk.header, chunk.content_hash, chunk.text)


def row_chunk(row: tuple[Any, ...]) -> Chunk:
    return Chunk(id=row[0], path=row[1], language=row[2], kind=row[3], symbol=row[4], start_line=row[5],
                 end_line=row[6], start_byte=row[7], end_byte=row[8], header=row[9], content_hash=row[10],
                 text=row[11])


def symbols_json(symbols: FileSymbols) -> str:
    return json.dumps({
        "definitions": [[d.name, d.qualified_name, d.kind, d.start_line, d.end_line, d.signature]
                        for d in symbols.definitions],
        "references": list(symbols.references),
        "imports": list(symbols.imports),
    })


def json_symbols(path: str, language: str, data: str) -> FileSymbols:
    raw = json.loads(data)
    definitions = tuple(
        SymbolDef(name=d[0], qualified_name=d[1], kind=d[2], path=path, start_line=d[3], end_line=d[4],
                  signature=d[5])
        for d in raw["definitions"]
    )
    return FileSymbols(path=path, language=language, definitions=definitions,
                       references=tuple(raw["references"]), imports=tuple(raw["imports"]))


def list_json(items: list[str]) -> str:
    return json.dumps(items, separators=(",", ":"))


def json_list(text: str) -> list[str]:
    return list(json.loads(text))


def vectors_by_key(conn: sqlite3.Connection, table: str, keys: Iterable[str]) -> dict[str, bytes]:
    """``{key: vec}`` for the keys present in a ``(key, vec)`` table (the repository's or the shared cache)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        found.update(conn.execute(f"SELECT key, vec FROM {table} WHERE key IN ({','.join('?' * len(part))})", part))
    return found


def fetch_chunks(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Chunk]:
    """Chunks by id (missing ids are simply absent: they were replaced since the caller looked)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Chunk] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        marks = ",".join("?" * len(part))
        for row in conn.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", part):
            found[row[0]] = row_chunk(row)
    return found
