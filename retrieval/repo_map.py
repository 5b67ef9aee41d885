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
- Given the index's content digest, the graph is saved and loaded by it
  (:mod:`retrieval.map_store`): a new process answering a new question ranks the
  saved graph and never loads the symbol table.
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

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from base.lru import Lru
from indexer.types import FileSymbols
from retrieval import map_store
from retrieval.map_graph import MapGraph, MapRow, Ranking

TokenCounter = Callable[[str], int]
SymbolSource = Mapping[str, FileSymbols] | Callable[[], Mapping[str, FileSymbols]]


class RepoMap:
    """The def/ref tables of a repository, kept up to date file by file, and the map they rank.

    The ranked structure (:class:`~retrieval.map_graph.MapGraph`) comes either from the
    tables (:meth:`update`) or, by content digest, from the disk cache (:meth:`use`).
    """

    def __init__(self, cache_size: int = 32) -> None:
        self._files: dict[str, FileSymbols] = {}
        self._defines: dict[str, set[str]] = defaultdict(set)  # name -> files defining it
        self._referrers: dict[str, set[str]] = defaultdict(set)  # name -> files referencing it
        self._version = 0
        self._last_mapping: Mapping[str, FileSymbols] | None = None
        self._last_size = -1
        self._graph: MapGraph | None = None
        self._graph_version = -1
        self._digest = ""  # content digest of the graph in use, "" when it came from the tables alone
        self._rank_cache: Lru[tuple[Any, ...], Ranking] = Lru(cache_size)
        self._text_cache: Lru[tuple[Any, ...], str] = Lru(cache_size)
        self.lock = threading.RLock()

    @property
    def version(self) -> int:
        """Bumped whenever the symbol table (or, by digest, the content) changed."""
        return self._version

    # -- incremental tables -------------------------------------------------------------

    def _add(self, fs: FileSymbols) -> None:
        self._files[fs.path] = fs
        for d in fs.definitions:
            self._defines[d.name].add(fs.path)
        for name in fs.references:
            self._referrers[name].add(fs.path)

    def _remove(self, fs: FileSymbols) -> None:
        self._files.pop(fs.path, None)
        for d in fs.definitions:
            owners = self._defines.get(d.name)
            if owners is not None:
                owners.discard(fs.path)
                if not owners:
                    del self._defines[d.name]
        for name in fs.references:
            users = self._referrers.get(name)
            if users is not None:
                users.discard(fs.path)
                if not users:
                    del self._referrers[name]

    def _changed(self) -> None:
        self._version += 1
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
            changed = 0
            for path in [p for p in self._files if p not in symbols]:
                self._remove(self._files[path])
                changed += 1
            for path, fs in symbols.items():
                old = self._files.get(path)
                if old is fs:
                    continue
                if old is not None:
                    if old == fs:
                        self._files[path] = fs  # same content, new object: remember it for the `is` check
                        continue
                    self._remove(old)
                self._add(fs)
                changed += 1
            if changed or self._digest:
                self._digest = ""  # the tables, not a saved graph, decide from now on
                self._graph = None
                self._changed()
            return changed

    def use(self, digest: str, symbols: SymbolSource) -> None:
        """Rank the repository whose index content digest is ``digest``.

        The graph in use, or the one saved for ``digest``, when there is one; otherwise the
        symbols (loaded only now, when ``symbols`` is a callable) update the tables and the
        graph built from them is saved for the next process.
        """
        with self.lock:
            if digest and digest == self._digest and self._graph is not None:
                return
            saved = map_store.load(digest) if digest else None
            if saved is not None:
                self._graph, self._digest, self._last_mapping, self._last_size = saved, digest, None, -1
                self._changed()
                self._graph_version = self._version
                return
            self.update(symbols() if callable(symbols) else symbols)
            if digest:
                map_store.save(digest, self.graph())
                self._digest = digest

    # -- graph and ranking --------------------------------------------------------------

    def graph(self) -> MapGraph:
        """The ranked structure for the current tables (or the loaded one), built once per version."""
        with self.lock:
            if self._graph is None or self._graph_version != self._version:
                self._graph = MapGraph.build(self._files, self._defines, self._referrers)
                self._graph_version = self._version
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
    symbols: SymbolSource,
    budget: int,
    count_tokens: TokenCounter,
    focus_files: Sequence[str] = (),
    focus_names: Sequence[str] = (),
    *,
    cache_key: str = "",
    content_digest: str = "",
) -> str:
    """The repo map for ``symbols`` within ``budget`` tokens, ranked toward the files and names in play.

    Uses (and updates incrementally) the shared :class:`RepoMap` for ``cache_key``, so a second
    call on an unchanged or slightly changed repository reuses the tables and rankings.  With
    ``content_digest`` (the index's, :func:`index_digest`) the ranked structure is also loaded
    from and saved to the disk cache, and ``symbols`` may be a callable that is called only
    when nothing is saved for that content: a new process skips the symbol table.
    """
    if budget <= 0:
        return ""
    repo_map = shared_repo_map(cache_key)
    with repo_map.lock:
        if content_digest:
            repo_map.use(content_digest, symbols)
        else:
            repo_map.update(symbols() if callable(symbols) else symbols)
        return repo_map.render(budget, count_tokens, focus_files, focus_names)


def index_digest(reader: Any) -> str:
    """The reader's content digest, or "" for a reader without one (a test double): no disk cache then."""
    digest = getattr(reader, "content_digest", None)
    return digest() if callable(digest) else ""
