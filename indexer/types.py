"""Plain data passed from the indexer to retrieval and the rest of the app.

Lines are 1-based and inclusive; byte offsets are 0-based, end-exclusive, into
the file's UTF-8 bytes as read from disk.  Paths are repository-relative POSIX
strings.  These classes are frozen so they can be cached and shared between
threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a file: a definition, part of one, or merged module code.

    ``id`` is deterministic (derived from path, span and content hash) so a
    re-run produces the same ids and vector upserts never duplicate points.
    ``header`` is the enclosing signature (``class Order(Base):``) shown above
    the chunk's text so a method read alone still says where it belongs.
    """

    id: str
    path: str
    language: str
    kind: str  # function, method, class, struct, impl, interface, enum, module, section, text, ...
    symbol: str  # qualified name, e.g. "Order.total"; "" for module-level code and text windows
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    text: str
    header: str = ""
    content_hash: str = ""


@dataclass(frozen=True)
class SymbolDef:
    """A definition found in a file (for go-to-definition, the repo map and PageRank)."""

    name: str  # simple name, e.g. "total"
    qualified_name: str  # e.g. "Order.total"
    kind: str
    path: str
    start_line: int
    end_line: int
    signature: str  # first line(s) of the definition, e.g. "def total(self) -> Decimal:"


@dataclass(frozen=True)
class FileSymbols:
    """Per file: what it defines, which identifiers it references, what it imports."""

    path: str
    language: str
    definitions: tuple[SymbolDef, ...] = ()
    references: tuple[str, ...] = ()  # identifiers used (not defined) in the file, with repeats removed
    imports: tuple[str, ...] = ()  # imported module paths / names as written, e.g. "shopcore.pricing.calculator"


@dataclass(frozen=True)
class IndexContent:
    """What an index holds, by content: the version that derived its data and every indexed file's hash.

    Two indexes with equal content hold equal derived data (chunks, symbols), so caches keyed
    by :attr:`digest` survive re-indexing unchanged files, and a cache built for an older
    content can be brought up to date by re-reading only the files whose hash differs.
    """

    version: str  # index format and chunking settings: data derived under another version differs
    hashes: dict[str, str] = field(default_factory=dict)  # path -> content hash
    digest: str = ""

    def changed_since(self, older: IndexContent) -> list[str]:
        """Paths added, removed or edited since ``older`` (every path, when its version differs)."""
        if older.version != self.version:
            return sorted(older.hashes.keys() | self.hashes.keys())
        return sorted(p for p in older.hashes.keys() | self.hashes.keys() if older.hashes.get(p) != self.hashes.get(p))


@dataclass
class SkippedFile:
    """A file the walk did not index, and why (binary, too large, secret, ignored link...)."""

    path: str
    reason: str


@dataclass
class IndexStats:
    """What one indexing run did; printed as the CLI's summary table."""

    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    chunks_by_language: dict[str, int] = field(default_factory=dict)
    seconds_by_phase: dict[str, float] = field(default_factory=dict)
    replaced_characters: int = 0  # files decoded with replacement characters
    redacted_lines: int = 0  # token-like lines replaced before chunking (see indexer.secrets)
    vectors_reused: int = 0  # chunks whose vectors came from the content-hash cache, not the model
    vector_points: int = 0  # points in the vector store after the run
    keyword_points: int = 0  # points in the Qdrant keyword collection after the run (index.qdrant_keywords)
    bm25_ready_s: float = 0.0  # seconds from start until BM25 search covered this run's changes
    cancelled: bool = False  # stopped early by the cancel event (what was committed stays)
    message: str = ""  # a note for the user, e.g. why the index was rebuilt
