"""A compact, ranked map of the repository: files and their definitions with signatures.

Built as Aider builds its repo map (``aider/repomap.py``): files are nodes of a
graph with an edge from every file that *references* a name to every file that
*defines* it; personalised PageRank over that graph (teleporting to the files and
names in play) ranks files, each file's rank is spread over the definitions its
references point at, and the best definitions are rendered, as many as fit the
token budget (found by binary search over how many to show).

What differs from Aider, and why:

- The symbol table comes from the index (:class:`indexer.types.FileSymbols`), so
  no file is parsed here.  :class:`RepoMap` keeps the def/ref tables and the edge
  arrays between calls and updates them per changed file (incremental); the
  ranking for a focus and the rendered text for a budget are memoised.
- PageRank runs as a vectorised power iteration over edge arrays (numpy) rather
  than through a networkx graph rebuilt on every call.  It is the same algorithm
  as ``networkx.pagerank`` (weighted, personalised, dangling mass sent to the
  personalisation vector) and the unit tests check it against networkx.
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
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.types import FileSymbols, SymbolDef

MAX_DEFINERS = 20
FOCUS_FILE_MUL = 50.0  # edges out of the files in play (Aider: chat files)
MENTIONED_MUL = 10.0  # edges for names mentioned in the query / around the cursor
LONG_NAME_MUL = 10.0  # snake/camel/kebab names of 8+ characters are specific
PRIVATE_MUL = 0.1
COMMON_MUL = 0.1  # names defined in more than 5 files
UNREFERENCED_SELF_WEIGHT = 0.1
DAMPING = 0.85
SIGNATURE_CHARS = 100
MAX_DEPTH = 1  # top-level definitions and their members (methods), not nested helpers

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class RankedDefinition:
    """A definition and its share of PageRank."""

    definition: SymbolDef
    score: float


def _name_multiplier(name: str, definers: int) -> float:
    mul = 1.0
    is_snake = "_" in name.strip("_") and any(c.isalpha() for c in name)
    is_kebab = "-" in name and any(c.isalpha() for c in name)
    is_camel = any(c.isupper() for c in name) and any(c.islower() for c in name)
    if (is_snake or is_kebab or is_camel) and len(name) >= 8:
        mul *= LONG_NAME_MUL
    if name.startswith("_"):
        mul *= PRIVATE_MUL
    if definers > 5:
        mul *= COMMON_MUL
    return mul


def pagerank(
    n: int,
    src: Any,
    dst: Any,
    weight: Any,
    personalization: Any | None = None,
    *,
    alpha: float = DAMPING,
    tol: float = 1.0e-6,
    max_iter: int = 100,
) -> Any:
    """Weighted personalised PageRank over edge arrays; returns a numpy vector summing to 1.

    Matches ``networkx.pagerank(G, weight=..., personalization=p, dangling=p)``: parallel
    edges add up, each node's out-weights are normalised, dangling nodes jump to ``p``.
    """
    import numpy as np

    if n == 0:
        return np.zeros(0)
    p = np.full(n, 1.0 / n) if personalization is None else np.asarray(personalization, dtype=float)
    if p.sum() <= 0:
        p = np.full(n, 1.0 / n)
    p = p / p.sum()
    out_weight = np.bincount(src, weights=weight, minlength=n) if len(src) else np.zeros(n)
    dangling = out_weight == 0
    norm = np.zeros(len(src))
    if len(src):
        norm = weight / out_weight[src]
    x = p.copy()
    for _ in range(max_iter):
        last = x
        spread = np.bincount(dst, weights=x[src] * norm, minlength=n) if len(src) else np.zeros(n)
        x = alpha * (spread + x[dangling].sum() * p) + (1 - alpha) * p
        if np.abs(x - last).sum() < n * tol:
            break
    return x / x.sum()


class RepoMap:
    """The def/ref tables of a repository, kept up to date file by file, and the map they rank."""

    def __init__(self, cache_size: int = 32) -> None:
        self._files: dict[str, FileSymbols] = {}
        self._defines: dict[str, set[str]] = defaultdict(set)  # name -> files defining it
        self._referrers: dict[str, set[str]] = defaultdict(set)  # name -> files referencing it
        self._shown_by_name: dict[str, dict[str, list[SymbolDef]]] = {}  # path -> name -> mapped defs
        self._version = 0
        self._last_mapping: Mapping[str, FileSymbols] | None = None
        self._last_size = -1
        self._graph: tuple[int, dict[str, Any]] | None = None
        self._rank_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._text_cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._cache_size = cache_size
        self.lock = threading.RLock()

    @property
    def version(self) -> int:
        """Bumped whenever an update changed the symbol table."""
        return self._version

    # -- incremental tables -------------------------------------------------------------

    def _shown(self, fs: FileSymbols) -> Iterable[SymbolDef]:
        return (d for d in fs.definitions if d.qualified_name.count(".") <= MAX_DEPTH)

    def _add(self, fs: FileSymbols) -> None:
        self._files[fs.path] = fs
        shown: dict[str, list[SymbolDef]] = {}
        for d in self._shown(fs):
            shown.setdefault(d.name, []).append(d)
        self._shown_by_name[fs.path] = shown
        for d in fs.definitions:
            self._defines[d.name].add(fs.path)
        for name in fs.references:
            self._referrers[name].add(fs.path)

    def _remove(self, fs: FileSymbols) -> None:
        self._files.pop(fs.path, None)
        self._shown_by_name.pop(fs.path, None)
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
            if changed:
                self._version += 1
                self._rank_cache.clear()
                self._text_cache.clear()
            return changed

    # -- graph and ranking --------------------------------------------------------------

    def _build_graph(self) -> dict[str, Any]:
        """Edge arrays for the current tables (cached per version)."""
        import numpy as np

        if self._graph is not None and self._graph[0] == self._version:
            return self._graph[1]
        paths = sorted(self._files)
        index = {p: i for i, p in enumerate(paths)}
        names: list[str] = []
        src: list[int] = []
        dst: list[int] = []
        ident: list[int] = []
        weight: list[float] = []
        for name, definers in self._defines.items():
            if len(definers) > MAX_DEFINERS:
                continue
            name_id = len(names)
            names.append(name)
            referrers = self._referrers.get(name)
            if not referrers:
                for definer in definers:
                    src.append(index[definer])
                    dst.append(index[definer])
                    ident.append(name_id)
                    weight.append(UNREFERENCED_SELF_WEIGHT)
                continue
            mul = _name_multiplier(name, len(definers))
            for referrer in referrers:
                r = index[referrer]
                for definer in definers:
                    src.append(r)
                    dst.append(index[definer])
                    ident.append(name_id)
                    weight.append(mul)
        dst_arr = np.asarray(dst, dtype=np.int64)
        ident_arr = np.asarray(ident, dtype=np.int64)
        # Each edge credits one (defining file, name) pair; the pairs are fixed per version.
        pair_keys, pair_of_edge = np.unique(dst_arr * max(1, len(names)) + ident_arr, return_inverse=True)
        parts: dict[str, list[int]] = {}
        for i, path in enumerate(paths):
            stem = path.rsplit("/", 1)[-1]
            for part in {*path.split("/"), stem.rsplit(".", 1)[0]}:
                parts.setdefault(part, []).append(i)
        graph = {
            "paths": paths,
            "index": index,
            "names": names,
            "name_index": {n: i for i, n in enumerate(names)},
            "src": np.asarray(src, dtype=np.int64),
            "dst": dst_arr,
            "ident": ident_arr,
            "weight": np.asarray(weight, dtype=float),
            "pair_keys": pair_keys,
            "pair_of_edge": pair_of_edge.reshape(-1),
            "parts": parts,
        }
        self._graph = (self._version, graph)
        return graph

    def _rank(self, focus_files: Sequence[str], focus_names: Sequence[str]) -> dict[str, Any]:
        """PageRank for a focus and the (file, name) pairs ordered by the rank they receive (cached)."""
        import numpy as np

        key = (self._version, tuple(sorted(set(focus_files))), tuple(sorted(set(focus_names))))
        cached = self._rank_cache.get(key)
        if cached is not None:
            self._rank_cache.move_to_end(key)
            return cached
        g = self._build_graph()
        n = len(g["paths"])
        focus_idx = [g["index"][p] for p in set(focus_files) if p in g["index"]]
        mentioned = set(focus_names)
        mentioned_ids = [g["name_index"][m] for m in mentioned if m in g["name_index"]]
        weight = g["weight"]
        if (focus_idx or mentioned_ids) and len(weight):
            weight = weight.copy()
            if focus_idx:
                weight[np.isin(g["src"], focus_idx)] *= FOCUS_FILE_MUL
            if mentioned_ids:
                weight[np.isin(g["ident"], mentioned_ids)] *= MENTIONED_MUL
        personal = np.zeros(n)
        personal[focus_idx] = 1.0
        for name in mentioned:
            personal[g["parts"].get(name, [])] = 1.0  # as Aider: a path component is mentioned
            definers = self._defines.get(name, ())
            if 0 < len(definers) <= MAX_DEFINERS:  # unlike Aider: the files defining it too
                personal[[g["index"][path] for path in definers]] = 1.0
        rank = pagerank(n, g["src"], g["dst"], weight, personal if personal.any() else None)
        totals = np.zeros(0)
        order = np.zeros(0, dtype=np.int64)
        if len(weight):
            out_weight = np.bincount(g["src"], weights=weight, minlength=n)
            contrib = rank[g["src"]] * weight / out_weight[g["src"]]
            totals = np.bincount(g["pair_of_edge"], weights=contrib, minlength=len(g["pair_keys"]))
            order = np.argsort(-totals, kind="stable")  # ties: lower (file, name) key first
        entry = {"rank": rank, "totals": totals, "order": order, "entries": [], "next": 0, "done": False}
        self._rank_cache[key] = entry
        while len(self._rank_cache) > self._cache_size:
            self._rank_cache.popitem(last=False)
        return entry

    def ranked(
        self, focus_files: Sequence[str] = (), focus_names: Sequence[str] = (), limit: int | None = None
    ) -> list[tuple[str, SymbolDef | None, float]]:
        """``(path, definition or None, score)`` best first: definitions, then files without any.

        Only the first ``limit`` entries are guaranteed (the list is built lazily: a big
        repository has tens of thousands of ranked pairs, and a map shows a few hundred).
        """
        import numpy as np

        with self.lock:
            state = self._rank(focus_files, focus_names)
            g = self._build_graph()
            entries: list[tuple[str, SymbolDef | None, float]] = state["entries"]
            paths: list[str] = g["paths"]
            names: list[str] = g["names"]
            width = max(1, len(names))
            order, totals = state["order"], state["totals"]
            while (limit is None or len(entries) < limit) and state["next"] < len(order):
                k = int(order[state["next"]])
                state["next"] += 1
                file_i, name_i = divmod(int(g["pair_keys"][k]), width)
                path = paths[file_i]
                for d in self._shown_by_name[path].get(names[name_i], ()):
                    entries.append((path, d, float(totals[k])))
            if (limit is None or len(entries) < limit) and not state["done"]:
                seen_files = {path for path, _, _ in entries}
                rank = state["rank"]
                for i in np.argsort(-rank, kind="stable"):
                    path = paths[int(i)]
                    if path not in seen_files:
                        entries.append((path, None, float(rank[int(i)])))
                state["done"] = True
            return entries if limit is None else entries[:limit]

    # -- rendering ----------------------------------------------------------------------

    def _parent_line(self, d: SymbolDef) -> SymbolDef | None:
        if "." not in d.qualified_name:
            return None
        parent = d.qualified_name.rsplit(".", 1)[0]
        for other in self._files[d.path].definitions:
            if other.qualified_name == parent:
                return other
        return None

    def to_text(self, entries: Sequence[tuple[str, SymbolDef | None, float]]) -> str:
        """Render entries as an outline: each file once (sorted), its definitions by line."""
        by_file: dict[str, dict[tuple[int, str], SymbolDef]] = {}
        for path, d, _score in entries:
            bucket = by_file.setdefault(path, {})
            if d is None:
                continue
            bucket[(d.start_line, d.qualified_name)] = d
            parent = self._parent_line(d)
            if parent is not None:
                bucket[(parent.start_line, parent.qualified_name)] = parent
        out: list[str] = []
        for path in sorted(by_file):
            defs = by_file[path]
            if not defs:
                out.append(path)
                continue
            out.append(f"{path}:")
            for (_line, _q), d in sorted(defs.items()):
                sig = " ".join(d.signature.strip().splitlines()[0].split()) if d.signature.strip() else d.name
                depth = d.qualified_name.count(".")
                out.append(f"{d.start_line:>5}│{'    ' * depth}{sig[:SIGNATURE_CHARS]}")
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
                self._text_cache.move_to_end(key)
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
            self._text_cache[key] = best
            while len(self._text_cache) > self._cache_size:
                self._text_cache.popitem(last=False)
            return best


_SHARED: OrderedDict[str, RepoMap] = OrderedDict()
_SHARED_LOCK = threading.Lock()


def shared_repo_map(key: str = "") -> RepoMap:
    """A process-wide :class:`RepoMap` per key (e.g. the repository path), so repeated maps stay warm."""
    with _SHARED_LOCK:
        repo_map = _SHARED.get(key)
        if repo_map is None:
            repo_map = _SHARED[key] = RepoMap()
            while len(_SHARED) > 4:
                _SHARED.popitem(last=False)
        _SHARED.move_to_end(key)
        return repo_map


def build_repo_map(
    symbols: Mapping[str, FileSymbols],
    budget: int,
    count_tokens: TokenCounter,
    focus_files: Sequence[str] = (),
    focus_names: Sequence[str] = (),
    *,
    cache_key: str = "",
) -> str:
    """The repo map for ``symbols`` within ``budget`` tokens, ranked toward the files and names in play.

    Uses (and updates incrementally) the shared :class:`RepoMap` for ``cache_key``, so a second
    call on an unchanged or slightly changed repository reuses the tables and rankings.
    """
    repo_map = shared_repo_map(cache_key)
    with repo_map.lock:
        repo_map.update(symbols)
        return repo_map.render(budget, count_tokens, focus_files, focus_names)

