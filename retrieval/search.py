"""Search the index: BM25, vectors, and both fused, with identifiers in the query boosted.

Four ranked lists can take part, fused by weighted reciprocal rank
(:mod:`retrieval.fusion`):

- ``bm25``: the reader's BM25 over code tokens, with the query's identifiers
  repeated so they weigh more than the prose around them;
- ``vector``: the reader's embedding search (same embedder as the index);
- ``symbol``: chunks holding a *definition* of a name the query mentions
  (``parse_header`` → ``def parse_header``), rarer names first;
- ``path``: chunks of files the query names (``requests/models.py``,
  ``requests.models``, a traceback frame's file and line).

``bm25`` mode uses the lexical lists (bm25, symbol, path); ``vector`` mode only the
vector list; ``hybrid`` all four.  Filters (path glob, language) apply to every list.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from base.config import RetrievalSettings
from base.errors import RetrievalError
from indexer.store import name_key
from indexer.types import Chunk, FileSymbols, SymbolDef
from retrieval.fusion import rrf_fuse
from retrieval.query import QueryAnalysis, analyze_query, boosted_tokens
from retrieval.types import FileHit, SearchHit

MODES = ("bm25", "vector", "hybrid")
SYMBOL_WEIGHT = 1.0
PATH_WEIGHT = 1.0
CANDIDATE_FACTOR = 3  # each list contributes this many times k candidates before fusion
PROSE_LANGUAGES = frozenset({"markdown", "text", "rst", "restructuredtext"})
PROSE_PRIOR = 0.9
TEST_PRIOR = 0.9


class Reader(Protocol):
    """What retrieval needs from :class:`indexer.reader.IndexReader` (a fake may stand in for unit tests)."""

    @property
    def has_vectors(self) -> bool: ...

    def files(self) -> Any: ...

    def chunks(self) -> Iterable[Chunk]: ...

    def chunks_for_file(self, path: str) -> list[Chunk]: ...

    def symbols(self) -> Mapping[str, FileSymbols]: ...

    def symbol_view(self) -> Mapping[str, FileSymbols]: ...

    def definitions_named(self, names: Iterable[str]) -> list[SymbolDef]: ...

    def files_with_basename(self, basename: str) -> list[str]: ...

    def bm25_search_tokens(self, tokens: Sequence[str], k: int) -> list[tuple[Chunk, float]]: ...

    def vector_search(self, query: str, k: int, paths: Sequence[str] | None = None) -> list[tuple[Chunk, float]]: ...


@dataclass(frozen=True)
class Filters:
    """Restrict results to paths matching a glob and/or one language.

    A glob without wildcards is a directory or file prefix (``shopcore/pricing``); ``*``
    crosses directories (``*.py`` is every Python file).
    """

    path_glob: str | None = None
    language: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.path_glob or self.language)

    def path_ok(self, path: str) -> bool:
        if not self.path_glob:
            return True
        glob = self.path_glob.strip().removeprefix("./")
        if not any(ch in glob for ch in "*?["):
            return path == glob or path.startswith(glob.rstrip("/") + "/")
        return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(path, glob.rstrip("/") + "/*")

    def accepts(self, chunk: Chunk) -> bool:
        if self.language and chunk.language.lower() != self.language.lower():
            return False
        return self.path_ok(chunk.path)


def is_test_path(path: str) -> bool:
    """Test code by the usual conventions of Python, JavaScript, Go, Java and Ruby projects."""
    parts = path.lower().split("/")
    name = parts[-1]
    if any(p in ("test", "tests", "testing", "__tests__", "spec", "specs") for p in parts[:-1]):
        return True
    stem = name.rsplit(".", 1)[0]
    return (stem.startswith("test_") or stem.endswith(("_test", "_tests", ".test", ".spec", "_spec"))
            or name == "conftest.py")


def file_paths(reader: Reader) -> list[str]:
    """Every indexed path (``files()`` may return paths or records with a ``path``)."""
    out: list[str] = []
    for item in reader.files():
        out.append(item if isinstance(item, str) else item.path)
    return out


class SymbolIndex:
    """Name → definitions and mention → files for one query, looked up in the index by name.

    A query names a handful of identifiers and files; looking each up (one indexed read,
    memoised here) costs the same on a 20-file project and a kernel tree, where loading the
    whole symbol table would take seconds.  Build one per query: it does not follow a reader
    that is re-indexed under it.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._candidates: dict[str, list[SymbolDef]] = {}
        self._basenames: dict[str, list[str]] = {}

    def _named(self, name: str) -> list[SymbolDef]:
        key = name_key(name)
        if key not in self._candidates:
            self._candidates[key] = self.reader.definitions_named([name])
        return self._candidates[key]

    def defined(self, name: str) -> list[SymbolDef]:
        """Definitions whose simple name is exactly ``name``, by path then source order."""
        return [d for d in self._named(name) if d.name == name]

    def defined_ignoring_case(self, name: str) -> list[SymbolDef]:
        """Definitions whose simple name is ``name`` ignoring case, by path then source order."""
        lower = name.lower()
        return [d for d in self._named(name) if d.name.lower() == lower]

    def _with_basename(self, basename: str) -> list[str]:
        if basename not in self._basenames:
            self._basenames[basename] = self.reader.files_with_basename(basename)
        return self._basenames[basename]

    def files_named(self, mention: str) -> list[str]:
        """Repository files a mention like ``requests/models.py`` or ``models.py`` refers to."""
        mention = mention.replace("\\", "/").lstrip("./")
        same_base = self._with_basename(mention.rsplit("/", 1)[-1])
        if mention in same_base:
            return [mention]
        return [p for p in same_base if p.endswith("/" + mention) or mention.endswith("/" + p)]

    def module_files(self, dotted: str) -> list[str]:
        """Files a dotted module path names (``requests.models`` → ``requests/models.py``)."""
        parts = dotted.split(".")
        found: list[str] = []
        # At least two components: "requests.models" names a module, "requests.get" alone does not
        # say which file of the package matters, and "shop.db" is a file name, not a package.
        for cut in range(len(parts), 1, -1):
            stem = "/".join(parts[:cut])
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                found += [p for p in self.files_named(candidate) if p not in found]
            if found:
                break
        return found


def effective_mode(reader: Reader, mode: str) -> tuple[str, str | None]:
    """The mode that will run and a note for the user when it differs from the one asked for."""
    if mode not in MODES:
        raise RetrievalError(f"unknown search mode '{mode}'", hint="use bm25, vector or hybrid")
    if not reader.has_vectors:
        if mode == "vector":
            raise RetrievalError(
                "the index has no vectors, so vector search is unavailable",
                hint="re-run `repo-assistant index` with index.embeddings=true, or use --mode bm25",
            )
        if mode == "hybrid":
            return "bm25", "the index has no vectors: hybrid search used BM25 only"
    return mode, None


class _ChunkLookup:
    """Chunks of a file and the chunk that holds a line or a definition (memoised per call)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._files: dict[str, list[Chunk]] = {}

    def chunks(self, path: str) -> list[Chunk]:
        if path not in self._files:
            self._files[path] = list(self.reader.chunks_for_file(path))
        return self._files[path]

    def at_line(self, path: str, line: int) -> Chunk | None:
        best: Chunk | None = None
        for c in self.chunks(path):
            if c.start_line <= line <= c.end_line and (
                best is None or c.end_line - c.start_line < best.end_line - best.start_line
            ):
                best = c
        return best

    def for_definition(self, d: SymbolDef) -> Chunk | None:
        chunks = self.chunks(d.path)
        for c in chunks:
            if c.symbol == d.qualified_name and c.start_line <= d.start_line <= c.end_line:
                return c
        for c in chunks:
            if c.symbol == d.qualified_name:
                return c
        return self.at_line(d.path, d.start_line)


def symbol_matches(analysis: QueryAnalysis, index: SymbolIndex) -> list[tuple[str, list[SymbolDef]]]:
    """``(name, definitions)`` for every query name defined in the repository, most specific first.

    Exact-case matches come first; a name only matched ignoring case counts as less specific.
    """
    out: list[tuple[float, int, str, list[SymbolDef]]] = []
    for order, name in enumerate(analysis.names):
        defs = index.defined(name)
        penalty = 1.0
        if not defs:
            defs = index.defined_ignoring_case(name)
            penalty = 3.0
        if defs:
            out.append((len(defs) * penalty, order, name, defs))
    out.sort(key=lambda item: (item[0], item[1]))
    return [(name, defs) for _, _, name, defs in out]


def lexical_lists(
    reader: Reader,
    analysis: QueryAnalysis,
    k: int,
    filters: Filters,
    lookup: _ChunkLookup,
    index: SymbolIndex,
) -> tuple[dict[str, list[Chunk]], dict[str, set[str]]]:
    """The bm25, symbol and path lists, and for each chunk id the query names it matched."""
    matched: dict[str, set[str]] = {}
    bm25 = [c for c, _ in reader.bm25_search_tokens(boosted_tokens(analysis), k * (4 if filters.active else 1))
            if filters.accepts(c)][:k]
    symbol_list: list[Chunk] = []
    for name, defs in symbol_matches(analysis, index):
        ordered = sorted(defs, key=lambda d: ("." in d.qualified_name, d.path, d.start_line))
        for d in ordered[:10]:
            chunk = lookup.for_definition(d)
            if chunk is not None and filters.accepts(chunk):
                symbol_list.append(chunk)
                matched.setdefault(chunk.id, set()).add(name)
    path_list: list[Chunk] = []
    bm25_rank = {c.id: i for i, c in enumerate(bm25)}
    for frame in reversed(analysis.frames):  # innermost first: where the exception was raised
        for path in index.files_named(frame.path):
            chunk = lookup.at_line(path, frame.line)
            if chunk is not None and filters.accepts(chunk):
                path_list.append(chunk)
                matched.setdefault(chunk.id, set()).add(f"{frame.path}:{frame.line}")
    mentioned: list[tuple[str, str]] = [(p, m) for m in analysis.paths for p in index.files_named(m)]
    mentioned += [(p, m) for m in analysis.dotted for p in index.module_files(m)]
    for path, mention in mentioned:
        chunks = [c for c in lookup.chunks(path) if filters.accepts(c)]
        if not chunks:
            continue
        best = min(chunks, key=lambda c: (bm25_rank.get(c.id, len(bm25_rank)), c.start_line))
        path_list.append(best)
        matched.setdefault(best.id, set()).add(mention)
    return {"bm25": bm25, "symbol": symbol_list[: k], "path": path_list[: k]}, matched


def search(
    reader: Reader,
    query: str,
    k: int = 10,
    mode: str = "hybrid",
    path_glob: str | None = None,
    language: str | None = None,
    *,
    settings: RetrievalSettings | None = None,
) -> list[SearchHit]:
    """The ``k`` best chunks for ``query``.  ``hybrid`` silently uses BM25 when the index has no
    vectors (see :func:`effective_mode` for the note to show); ``vector`` then raises."""
    settings = settings or RetrievalSettings()
    if k <= 0 or not query.strip():
        return []
    run_mode, _note = effective_mode(reader, mode)
    filters = Filters(path_glob, language)
    analysis = analyze_query(query)
    candidates = max(k * CANDIDATE_FACTOR, settings.top_k)
    lists: dict[str, list[Chunk]] = {}
    matched: dict[str, set[str]] = {}
    if run_mode in ("bm25", "hybrid"):
        lexical, matched = lexical_lists(reader, analysis, candidates, filters, _ChunkLookup(reader),
                                         SymbolIndex(reader))
        lists.update(lexical)
    if run_mode in ("vector", "hybrid"):
        paths = None
        if filters.path_glob:
            paths = [p for p in file_paths(reader) if filters.path_ok(p)]
        found = reader.vector_search(query, candidates * (3 if filters.language else 1), paths=paths)
        lists["vector"] = [c for c, _ in found if filters.accepts(c)][:candidates]
    weights = {"bm25": settings.bm25_weight, "vector": settings.vector_weight,
               "symbol": SYMBOL_WEIGHT, "path": PATH_WEIGHT}
    fused = rrf_fuse(lists, weights=weights, k=settings.rrf_k, key=lambda c: c.id)
    hits = [SearchHit(chunk=c, score=score * code_prior(c), sources=ranks,
                      matched=tuple(sorted(matched.get(c.id, ())))) for c, score, ranks in fused]
    hits.sort(key=lambda h: -h.score)  # stable: equal scores keep the fused order
    return hits[:k]


def code_prior(chunk: Chunk) -> float:
    """A nudge toward code: prose (Markdown, text) and tests rank a few places lower than code
    found as well, since the answer to "where is X done" is the code doing it.  Filters
    (``--language markdown``, ``--path tests``) still reach them directly."""
    if chunk.language.lower() in PROSE_LANGUAGES:
        return PROSE_PRIOR
    if is_test_path(chunk.path):
        return TEST_PRIOR
    return 1.0


def aggregate_files(hits: Sequence[SearchHit], decay: float = 0.5, per_file: int = 3) -> list[FileHit]:
    """Group chunk hits by file: a file scores its best hit plus ``decay``-weighted further hits.

    A file with several relevant chunks outranks one with a single equally good chunk, but
    many weak chunks cannot outweigh one strong one (the weights form a geometric series).
    """
    by_file: dict[str, list[SearchHit]] = {}
    for hit in hits:
        by_file.setdefault(hit.path, []).append(hit)
    files: list[FileHit] = []
    for path, file_hits in by_file.items():
        file_hits.sort(key=lambda h: -h.score)
        score = sum(h.score * decay**i for i, h in enumerate(file_hits))
        files.append(FileHit(path=path, score=score, chunks=file_hits[:per_file]))
    files.sort(key=lambda f: (-f.score, f.path))
    return files
