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
little-endian arrays (see :mod:`indexer.bm25`), the rest plain rows and JSON.

Why some columns are zlib BLOBs: chunk text and a file's references and imports are
most of the bytes, never searched by SQL, and read a few files at a time (search hits,
a file's chunks) or all at once (repo map).  A file's chunks are one compressed row
(``chunk_files``; ``chunks`` maps a chunk id to its file and position), since small
chunks compress poorly alone: on a kernel-sized tree (site-packages, 382K chunks) the
index went from 2.3x to about 1.1x its sources.  Definitions are plain rows of their own
table, indexed by a lower-cased name key, because search looks a few names up per query
and must not load the whole symbol table to do it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from base.errors import IndexingError, IndexMissingError
from base.paths import repo_data_dir
from indexer.types import Chunk, FileSymbols, SymbolDef

# Bump when the schema, the chunker or the tokenizer changes what is stored: an index
# written by another version is rebuilt, never reused.
# 3-4: BM25 postings stored per (segment, term), varint doc gaps
# 5: a file's chunks in one zlib-compressed row (chunks maps an id to it), symbol references/imports
#    compressed, definitions in a table by name key, no chunks(path) index (chunk ids are in the manifest)
# 6: BM25 postings keyed by one integer (seg_id << 32 | term_id: a rowid table, no overflow waste); C++
#    headers chunked with the C++ grammar, definitions inside preprocessor conditionals found
INDEX_FORMAT_VERSION = 6
DB_NAME = "index.sqlite"
LOCK_NAME = "index.lock"

# A path's last component in SQL (the suffix after the last "/"): rtrim strips the trailing run of
# characters that are not "/", leaving the directory part.  Queries must spell it exactly like this
# to use the files_basename index.
BASENAME_SQL = "substr(path, length(rtrim(path, replace(path, '/', ''))) + 1)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL,
    language TEXT NOT NULL, status TEXT NOT NULL, chunk_ids TEXT NOT NULL, n_chunks INTEGER NOT NULL DEFAULT 0,
    replaced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunk_files (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, file_id INTEGER NOT NULL, seq INTEGER NOT NULL,
    start_line INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS symbols (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, language TEXT NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS definitions (file_id INTEGER NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL,
    qkey TEXT, name TEXT NOT NULL, qualified_name TEXT NOT NULL, kind TEXT NOT NULL, start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (file_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS definitions_key ON definitions(key);
CREATE INDEX IF NOT EXISTS definitions_qkey ON definitions(qkey) WHERE qkey IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_basename ON files({BASENAME_SQL});
CREATE TABLE IF NOT EXISTS bm25_vocab (term TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bm25_segments (id INTEGER PRIMARY KEY, n_docs INTEGER NOT NULL, doc_len BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bm25_postings (key INTEGER PRIMARY KEY, docs BLOB NOT NULL, tfs BLOB NOT NULL);
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
CREATE TABLE IF NOT EXISTS kw_points (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS walk_state (kind TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, PRIMARY KEY (kind, path)) WITHOUT ROWID;
"""

# zlib level for the compressed columns, measured on site-packages (274 MB of chunk text, one shared CPU):
# compressed per file, level 1 keeps 29% of the bytes at ~115 MB/s, level 6 25% at less than half the
# speed; the cold index must not pay seconds for it.
ZLIB_LEVEL = 1


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


_REINDEX_HINT = "run `repo-assistant index`"


def open_for_reading(repo: Path) -> sqlite3.Connection:
    """A connection to ``repo``'s index (``repo`` resolved), checked to hold a usable index.

    Raises :class:`IndexMissingError` when there is none yet and :class:`IndexingError`
    when it was written by an incompatible version or is unreadable.
    """
    path = db_path(repo)
    if not path.is_file():
        raise IndexMissingError(f"no index for {repo}", hint=_REINDEX_HINT)
    try:
        conn = connect(path)
        version = get_meta(conn, "format_version")
        generation = get_meta(conn, "generation")
    except sqlite3.DatabaseError as exc:
        raise IndexingError(f"the index at {path} is unreadable ({exc})",
                            hint="run `repo-assistant index --rebuild`") from exc
    if version is None or not generation:
        conn.close()
        raise IndexMissingError(f"the index for {repo} is still empty", hint=_REINDEX_HINT)
    if version != INDEX_FORMAT_VERSION:
        conn.close()
        raise IndexingError(
            f"the index for {repo} has format v{version}; this version reads v{INDEX_FORMAT_VERSION}",
            hint="run `repo-assistant index`, which rebuilds it",
        )
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

def pack_text(text: str) -> bytes:
    """A compressed column's bytes for ``text`` (see the module docstring for why)."""
    return zlib.compress(text.encode("utf-8"), ZLIB_LEVEL)


def unpack_text(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8")


def pack_file_chunks(chunks: Sequence[Chunk]) -> bytes:
    """One file's chunks as one compressed value: small chunks compress poorly alone (43% of their
    bytes on site-packages), a file's together well (29%), and readers want whole files or a few hits.

    A line of JSON with each chunk's small fields and its header and text lengths, then the headers
    and texts back to back: JSON-escaping the texts would cost more than compressing them.
    """
    meta = [[c.language, c.kind, c.symbol, c.start_line, c.end_line, c.start_byte, c.end_byte, c.content_hash,
             len(c.header), len(c.text)] for c in chunks]
    parts = [json.dumps(meta, ensure_ascii=False, separators=(",", ":")), "\n"]
    for c in chunks:
        parts += (c.header, c.text)
    return pack_text("".join(parts))


def unpack_file_chunks(blob: bytes, chunk_ids: Sequence[str | None], path: str) -> list[Chunk | None]:
    """The chunks of :func:`pack_file_chunks` in the order packed (index = ``chunks.seq``), given their
    ids (``None`` for one not wanted: it is skipped, not built)."""
    raw = unpack_text(blob)
    newline = raw.index("\n")  # JSON escapes every newline inside strings
    at = newline + 1
    out: list[Chunk | None] = []
    for f, chunk_id in zip(json.loads(raw[:newline]), chunk_ids, strict=False):
        header_end = at + f[8]
        text_end = header_end + f[9]
        out.append(None if chunk_id is None else Chunk(
            id=chunk_id, path=path, language=f[0], kind=f[1], symbol=f[2], start_line=f[3], end_line=f[4],
            start_byte=f[5], end_byte=f[6], content_hash=f[7], header=raw[at:header_end],
            text=raw[header_end:text_end]))
        at = text_end
    return out


class PackedChunks(NamedTuple):
    """A file's chunks as :func:`insert_chunks` stores them, built by :func:`pack_chunks` in the chunking worker.

    The indexing process is the serial part of a cold run: unpickling Chunk objects and compressing
    their text there cost it ~5 CPU-s on site-packages (24K files), bytes and two lists cost it next
    to nothing.
    """

    ids: list[str]
    start_lines: list[int]
    body: bytes  # :func:`pack_file_chunks`; empty when there are no chunks


def pack_chunks(chunks: Sequence[Chunk]) -> PackedChunks:
    return PackedChunks([c.id for c in chunks], [c.start_line for c in chunks],
                        pack_file_chunks(chunks) if chunks else b"")


def insert_chunks(conn: sqlite3.Connection, files: Iterable[tuple[str, PackedChunks]]) -> None:
    """Store new chunks, one ``chunk_files`` row per file (the caller deleted the files' old ones)."""
    rows: list[tuple[str, int, int, int]] = []
    for path, packed in files:
        if not packed.ids:
            continue
        file_id = conn.execute("INSERT INTO chunk_files(path, body) VALUES (?, ?)", (path, packed.body)).lastrowid
        rows += [(cid, file_id, seq, line) for seq, (cid, line) in enumerate(zip(packed.ids, packed.start_lines,
                                                                                  strict=True))]
    conn.executemany("INSERT OR REPLACE INTO chunks(id, file_id, seq, start_line) VALUES (?, ?, ?, ?)", rows)


def delete_chunks(conn: sqlite3.Connection, paths: Iterable[str], ids: Sequence[str]) -> None:
    """Remove the chunks ``ids`` and the stored chunk text of ``paths`` (all of those files' chunks)."""
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        conn.execute(f"DELETE FROM chunks WHERE id IN ({','.join('?' * len(part))})", part)
    conn.executemany("DELETE FROM chunk_files WHERE path = ?", [(p,) for p in paths])


def chunk_ids_of(conn: sqlite3.Connection, path: str) -> list[str]:
    """The ids of a file's chunks, from its manifest row (``[]`` for a file not indexed)."""
    row = conn.execute("SELECT chunk_ids FROM files WHERE path = ?", (path,)).fetchone()
    return json_list(row[0]) if row else []


# ---------------------------------------------------------------------------- symbols

def name_key(name: str) -> str:
    """The lookup key of a name: its last dotted part, lower-cased.

    A definition is found under the key of its simple name and, when it differs, of its
    qualified name, so one indexed equality finds every definition that a name matches
    exactly, ignoring case, as a qualified name or as a qualified-name suffix
    (``Order.total`` and ``total`` both have the key ``total``).
    """
    return name.rpartition(".")[2].lower()


def delete_symbols(conn: sqlite3.Connection, path: str) -> None:
    """Remove a file's symbols row and its definitions (call inside the writer's transaction)."""
    conn.execute("DELETE FROM definitions WHERE file_id IN (SELECT id FROM symbols WHERE path = ?)", (path,))
    conn.execute("DELETE FROM symbols WHERE path = ?", (path,))


class PackedSymbols(NamedTuple):
    """A file's symbols as :func:`write_symbols` stores them, built by :func:`pack_symbols` in the chunking
    worker (for the reason given at :class:`PackedChunks`)."""

    data: bytes  # references and imports, one compressed JSON value
    definitions: list[tuple[Any, ...]]  # ``definitions`` rows without their file id


def pack_symbols(symbols: FileSymbols) -> PackedSymbols:
    data = pack_text(json.dumps([list(symbols.references), list(symbols.imports)], separators=(",", ":")))
    rows = []
    for seq, d in enumerate(symbols.definitions):
        key, qkey = name_key(d.name), name_key(d.qualified_name)
        rows.append((seq, key, None if qkey == key else qkey, d.name, d.qualified_name, d.kind,
                     d.start_line, d.end_line, d.signature))
    return PackedSymbols(data, rows)


def write_symbols(conn: sqlite3.Connection, files: Iterable[tuple[str, str, PackedSymbols]]) -> None:
    """Store the symbols of ``(path, language, symbols)`` files (the caller deleted their old ones):
    definitions as rows, in one statement for all the files, references and imports as one compressed value."""
    rows: list[tuple[Any, ...]] = []
    for path, language, symbols in files:
        file_id = conn.execute("INSERT INTO symbols(path, language, data) VALUES (?, ?, ?)",
                               (path, language, symbols.data)).lastrowid
        rows += [(file_id, *row) for row in symbols.definitions]
    conn.executemany("INSERT INTO definitions(file_id, seq, key, qkey, name, qualified_name, kind, start_line, "
                     "end_line, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


_DEFINITION_COLUMNS = "s.path, d.name, d.qualified_name, d.kind, d.start_line, d.end_line, d.signature"


def _definition(row: tuple[Any, ...]) -> SymbolDef:
    return SymbolDef(name=row[1], qualified_name=row[2], kind=row[3], path=row[0], start_line=row[4],
                     end_line=row[5], signature=row[6])


def load_symbols(conn: sqlite3.Connection) -> dict[str, FileSymbols]:
    """Every file's symbols, by path in path order (definitions in source order, as extracted).

    Definitions are read in primary-key order without a join (a join looks each row's file up).
    """
    files = conn.execute("SELECT id, path, language, data FROM symbols ORDER BY path").fetchall()
    path_of = {file_id: path for file_id, path, _, _ in files}
    definitions: dict[int, list[SymbolDef]] = {}
    for file_id, name, qualified, kind, start, end, signature in conn.execute(
            "SELECT file_id, name, qualified_name, kind, start_line, end_line, signature FROM definitions "
            "ORDER BY file_id, seq"):
        definitions.setdefault(file_id, []).append(SymbolDef(
            name=name, qualified_name=qualified, kind=kind, path=path_of[file_id], start_line=start,
            end_line=end, signature=signature))
    return {path: _file_symbols(path, language, data, definitions.get(file_id, ()))
            for file_id, path, language, data in files}


def load_file_symbols(conn: sqlite3.Connection, path: str) -> FileSymbols | None:
    """One file's symbols, as :func:`load_symbols` builds them (``None``: not indexed), read by key."""
    row = conn.execute("SELECT id, language, data FROM symbols WHERE path = ?", (path,)).fetchone()
    if row is None:
        return None
    file_id, language, data = row
    definitions = [SymbolDef(name=name, qualified_name=qualified, kind=kind, path=path, start_line=start,
                             end_line=end, signature=signature)
                   for name, qualified, kind, start, end, signature in conn.execute(
                       "SELECT name, qualified_name, kind, start_line, end_line, signature FROM definitions "
                       "WHERE file_id = ? ORDER BY seq", (file_id,))]
    return _file_symbols(path, language, data, definitions)


def _file_symbols(path: str, language: str, data: bytes, definitions: Iterable[SymbolDef]) -> FileSymbols:
    references, imports = json.loads(unpack_text(data))
    return FileSymbols(path=path, language=language, definitions=tuple(definitions),
                       references=tuple(references), imports=tuple(imports))


def definitions_by_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> list[SymbolDef]:
    """Definitions filed under any of ``keys`` (see :func:`name_key`), in path then source order."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        f"SELECT {_DEFINITION_COLUMNS}, d.file_id, d.seq FROM definitions d JOIN symbols s ON s.id = d.file_id "
        f"WHERE d.key IN ({marks}) UNION "
        f"SELECT {_DEFINITION_COLUMNS}, d.file_id, d.seq FROM definitions d JOIN symbols s ON s.id = d.file_id "
        f"WHERE d.qkey IN ({marks}) ORDER BY 1, 9", [*wanted, *wanted])
    return [_definition(row) for row in rows]


def files_with_basename(conn: sqlite3.Connection, basename: str) -> list[str]:
    """Indexed files whose last path component is ``basename``, sorted."""
    return [r[0] for r in conn.execute(
        f"SELECT path FROM files WHERE {BASENAME_SQL} = ? AND status = 'indexed' ORDER BY path", (basename,))]


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
    """Chunks by id (missing ids are simply absent: they were replaced since the caller looked).

    Each file holding a wanted chunk is decompressed once.  Outside a transaction a writer may
    commit between the two reads: ``chunk_files`` ids are never reused (AUTOINCREMENT), so a
    replaced file's chunks are then absent, never read from another file's text.
    """
    wanted = list(dict.fromkeys(ids))
    by_file: dict[int, dict[int, str]] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        marks = ",".join("?" * len(part))
        for cid, file_id, seq in conn.execute(f"SELECT id, file_id, seq FROM chunks WHERE id IN ({marks})", part):
            by_file.setdefault(file_id, {})[seq] = cid
    found: dict[str, Chunk] = {}
    file_ids = sorted(by_file)
    for start in range(0, len(file_ids), 500):
        part = file_ids[start:start + 500]
        for file_id, path, body in conn.execute(
                f"SELECT id, path, body FROM chunk_files WHERE id IN ({','.join('?' * len(part))})", part):
            found.update((c.id, c) for c in _file_chunks(body, by_file[file_id], path) if c is not None)
    return found


def _file_chunks(body: bytes, ids_by_seq: dict[int, str], path: str) -> list[Chunk | None]:
    return unpack_file_chunks(body, [ids_by_seq.get(seq) for seq in range(max(ids_by_seq, default=-1) + 1)], path)


def all_chunks(conn: sqlite3.Connection) -> list[Chunk]:
    """Every chunk, by path and then line (call inside a read transaction)."""
    by_file: dict[int, dict[int, str]] = {}
    for cid, file_id, seq in conn.execute("SELECT id, file_id, seq FROM chunks"):
        by_file.setdefault(file_id, {})[seq] = cid
    out: list[Chunk] = []
    for file_id, path, body in conn.execute("SELECT id, path, body FROM chunk_files ORDER BY path"):
        file_chunks = [c for c in _file_chunks(body, by_file.get(file_id, {}), path) if c is not None]
        out += sorted(file_chunks, key=lambda c: c.start_line)
    return out
