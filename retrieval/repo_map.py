"""A compact, ranked map of the repository: files and their definitions with signatures.

Built as Aider builds its repo map (``aider/repomap.py``): files are nodes of a
graph with an edge from every file that *references* a name to every file that
*defines* it; personalised PageRank over that graph (teleporting to the files and
names in play) ranks files, each file's rank is spread over the definitions its
references point at, and the best definitions are rendered, as many as fit the
token budget (found by binary search over how many to show).

What differs from Aider, and why:

- The symbol table comes from the index (:class:`indexer.types.FileSymbols`), so
  no file is parsed here.  :class:`RepoMap` keeps the def/ref tables between calls
  and updates them per changed file (incremental); the ranking for a focus and the
  rendered text for a budget are memoised.
- The graph is kept factorised through the names (:mod:`retrieval.map_graph`), not
  as edges: PageRank is the same chain as ``networkx.pagerank`` on the edge graph
  (weighted, personalised, dangling mass sent to the personalisation vector; the
  unit tests check the factorised ranking against networkx on the edge graph), at a
  fraction of the cost per question.
- Given the index's content, the def/ref tables and the graph's columns are saved and
  loaded by its digest (:mod:`retrieval.map_store`): a new process answering a new
  question ranks them and never loads the symbol table.  After an edit, the def/ref tables
  saved for the previous content (:mod:`retrieval.map_tables`) are patched with the
  changed files' symbols: Aider rescans, we re-read the files that changed.
- Names defined in more than ``MAX_DEFINERS`` files (``__init__``, ``get``,
  ``run``) are left out of the graph: Aider already divides their weight by ten,
  and on a large tree their all-to-all edges cost more than they say.
- Personalisation also goes to the files that *define* a mentioned name (Aider only
  matches mentioned names against path components), so asking about
  ``parse_header`` puts its file on the map even when nothing references it.
- Each shown definition gets its line number, and a method shown without its
  class gets the class's signature line above it, so the map reads as an outline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from base.lru import Lru
from indexer.types import FileSymbols, IndexContent
from retrieval import map_store
from retrieval.map_graph import MapGraph, MapRow, Ranking
from retrieval.map_tables import MapTables

log = logging.getLogger(__name__)
TokenCounter = Callable[[str], int]
SymbolSource = Mapping[str, FileSymbols] | Callable[[], Mapping[str, FileSymbols]]


@runtime_checkable
class IndexedSymbols(Protocol):
    """What the map reads from an index (:class:`~indexer.reader.IndexReader`): its content, and symbols by file."""

    def content(self) -> IndexContent: ...

    def symbols(self) -> Mapping[str, FileSymbols]: ...

    def file_symbols(self, path: str) -> FileSymbols | None: ...


# More changed files than this (or than a quarter of the repository) read the whole symbol table at
# once rather than file by file: per file, the index costs ~5x more.
PATCH_LIMIT = 2_000


class RepoMap:
    """The def/ref tables of a repository, kept up to date file by file, and the map they rank.

    The ranked structure (:class:`~retrieval.map_graph.MapGraph`) comes from the tables
    (:class:`~retrieval.map_tables.MapTables`), which follow either a symbol mapping
    (:meth:`update`) or an index's content (:meth:`use`, with the disk cache).
    """

    def __init__(self, cache_size: int = 32) -> None:
        self._files: dict[str, FileSymbols] = {}  # the mapping the tables follow (update), by path
        self._tables = MapTables()
        self._version = 0
        self._last_mapping: Mapping[str, FileSymbols] | None = None
        self._last_size = -1
        self._graph: MapGraph | None = None
        self._graph_version = -1
        self._digest = ""  # content digest of the graph in use, "" when it follows a mapping
        self._rank_cache: Lru[tuple[Any, ...], Ranking] = Lru(cache_size)
        self._text_cache: Lru[tuple[Any, ...], str] = Lru(cache_size)
        self.lock = threading.RLock()

    @property
    def version(self) -> int:
        """Bumped whenever the symbol table (or, by digest, the content) changed."""
        return self._version

    def _changed(self, graph: MapGraph | None = None) -> None:
        self._version += 1
        self._graph, self._graph_version = graph, self._version
        self._rank_cache.clear()
        self._text_cache.clear()

    def update(self, symbols: Mapping[str, FileSymbols]) -> int:
        """Bring the tables in line with ``symbols``; returns how many files changed.

        The mapping seen last is remembered by identity: pass a new mapping when the symbols
        change rather than mutating the old one (``IndexReader.symbols()`` returns a new dict
        for every index generation and the same one in between).
        """
        with self.lock:
            if symbols is self._last_mapping and len(symbols) == self._last_size:
                return 0
            self._last_mapping, self._last_size = symbols, len(symbols)
            changed: dict[str, FileSymbols | None] = {p: None for p in self._files if p not in symbols}
            for path, fs in symbols.items():
                old = self._files.get(path)
                if old is not fs and old != fs:
                    changed[path] = fs
            if self._digest:  # the tables followed an index's content: now they follow this mapping
                changed.update({p: None for p in self._tables.paths if p not in symbols})
            self._files = dict(symbols)
            if changed or self._digest:
                self._tables = self._tables.patch(changed)
                self._digest = ""
                self._changed()
            return len(changed)

    def use(self, index: IndexedSymbols, repo_key: str = "") -> None:
        """Rank the repository whose index is ``index``, by its content.

        The tables in use, or those saved for this content, when there are some.  Otherwise
        the tables of an earlier content of this repository (in memory, or saved as the latest
        for ``repo_key``) are patched with the files whose hash changed, read one by one from
        the index (the whole symbol table only for a large change or no earlier tables), and
        saved for the next process.
        """
        with self.lock:
            content = index.content()
            if content.digest == self._digest and self._graph is not None:
                return
            tables = map_store.load(content.digest)
            if tables is None:
                started = time.perf_counter()
                base = self._tables if self._tables.version == content.version else \
                    map_store.load_latest(repo_key, content.version) or MapTables(version=content.version)
                stale = content.changed_since(base.content)
                whole = len(stale) > min(PATCH_LIMIT, len(content.hashes) // 4)
                if whole:
                    every = index.symbols()
                    changed = {path: every.get(path) for path in stale}
                else:
                    changed = {path: index.file_symbols(path) for path in stale}
                tables = base.patch(changed, content)
                map_store.save(content.digest, tables, repo_key)
                log.info("repo map tables for %d files: %d changed, read %s, in %.2f s", len(content.hashes),
                         len(stale), "with the whole symbol table" if whole else "file by file",
                         time.perf_counter() - started)
            self._tables, self._files, self._last_mapping, self._last_size = tables, {}, None, -1
            self._digest = content.digest
            self._changed(tables.graph())

    # -- graph and ranking --------------------------------------------------------------

    def graph(self) -> MapGraph:
        """The ranked structure for the current tables (or the loaded one), built once per version."""
        with self.lock:
            if self._graph is None or self._graph_version != self._version:
                self._graph, self._graph_version = self._tables.graph(), self._version
            return self._graph

    def _rank(self, focus_files: Sequence[str], focus_names: Sequence[str]) -> Ranking:
        """PageRank for a focus and the pairs ordered by the rank they receive (cached per focus)."""
        key = (self._version, tuple(sorted(set(focus_files))), tuple(sorted(set(focus_names))))
        cached = self._rank_cache.get(key)
        if cached is not None:
            return cached
        g = self.graph()
        ids = (g.file_id(p) for p in key[1])
        entry = g.rank([i for i in ids if i is not None], key[2])
        self._rank_cache.put(key, entry)
        return entry

    def ranked(
        self, focus_files: Sequence[str] = (), focus_names: Sequence[str] = (), limit: int | None = None
    ) -> list[tuple[str, MapRow | None, float]]:
        """``(path, definition row or None, score)`` best first: definitions, then files without any.

        Only the first ``limit`` entries are guaranteed (the list is built lazily: a big
        repository has tens of thousands of ranked pairs, and a map shows a few hundred).
        """
        with self.lock:
            return self.graph().ranked(self._rank(focus_files, focus_names), limit)

    # -- rendering ----------------------------------------------------------------------

    @staticmethod
    def to_text(entries: Sequence[tuple[str, MapRow | None, float]]) -> str:
        """Render entries as an outline: each file once (sorted), its definitions by line."""
        by_file: dict[str, dict[tuple[int, str], MapRow]] = {}
        for path, row, _score in entries:
            bucket = by_file.setdefault(path, {})
            while row is not None:  # the row, then the class it belongs to
                bucket[(row.start_line, row.qualified_name)] = row
                row = row.parent
        out: list[str] = []
        for path in sorted(by_file):
            rows = by_file[path]
            if not rows:
                out.append(path)
                continue
            out.append(f"{path}:")
            out.extend(row.text for _key, row in sorted(rows.items()))
        return "\n".join(out) + ("\n" if out else "")

    def render(
        self,
        budget: int,
        count_tokens: TokenCounter,
        focus_files: Sequence[str] = (),
        focus_names: Sequence[str] = (),
    ) -> str:
        """The largest prefix of the ranking whose rendering fits ``budget`` tokens ("" if none does)."""
        if budget <= 0:
            return ""
        key = (self._version, tuple(sorted(set(focus_files))), tuple(sorted(set(focus_names))), budget,
               count_tokens)
        with self.lock:
            cached = self._text_cache.get(key)
            if cached is not None:
                return cached
            # Every rendered line costs at least a few tokens, so more than budget/3 entries never fit.
            entries = self.ranked(focus_files, focus_names, limit=budget // 3 + 1)
            low, high = 0, len(entries)
            best = ""
            while low <= high:
                middle = (low + high) // 2
                text = self.to_text(entries[:middle]) if middle else ""
                if count_tokens(text) <= budget:
                    best = text
                    low = middle + 1
                else:
                    high = middle - 1
            return self._text_cache.put(key, best)


_SHARED: Lru[str, RepoMap] = Lru(4)


def shared_repo_map(key: str = "") -> RepoMap:
    """A process-wide :class:`RepoMap` per key (e.g. the repository path), so repeated maps stay warm."""
    return _SHARED.get_or_put(key, RepoMap)


def build_repo_map(
    source: SymbolSource | IndexedSymbols,
    budget: int,
    count_tokens: TokenCounter,
    focus_files: Sequence[str] = (),
    focus_names: Sequence[str] = (),
    *,
    cache_key: str = "",
) -> str:
    """The repo map of ``source`` within ``budget`` tokens, ranked toward the files and names in play.

    Uses (and updates incrementally) the shared :class:`RepoMap` for ``cache_key`` (the
    repository's path), so a second call on an unchanged or slightly changed repository reuses
    the tables and rankings.  An index (:class:`IndexedSymbols`) is mapped by its content, with
    the disk cache (:meth:`RepoMap.use`): a new process loads the saved tables, or patches the
    saved tables of the repository's previous content, and reads the whole symbol table only
    when neither is there.  A mapping of symbols (or a callable returning one) is mapped as is.
    """
    if budget <= 0:
        return ""
    repo_map = shared_repo_map(cache_key)
    with repo_map.lock:
        if isinstance(source, IndexedSymbols):
            repo_map.use(source, cache_key)
        else:
            repo_map.update(source() if callable(source) else source)
        return repo_map.render(budget, count_tokens, focus_files, focus_names)
