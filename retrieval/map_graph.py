"""The repo map's ranked structure in compact, factorised form: built once per content, ranked per question.

Aider's graph has an edge from every file referencing a name to every file defining it;
on a large tree that is millions of edges (3.5M on 24K files of site-packages), and both
building them in Python and iterating PageRank over them cost seconds per question.  The
edges of one name all share one weight, so the graph factors through the names:

    referrers(name) --(sum)--> name --(weight)--> definers(name)

A PageRank step is then two sparse products, one over the (referrer, name) pairs and one
over the (definer, name) pairs, which are an order of magnitude fewer than the edges.
The chain is the same as the edge graph's (same transition probabilities, same dangling
and personalisation rules), so the ranking is the same up to floating-point summation order.

Everything here is numbers and strings (no :class:`~indexer.types.SymbolDef`): it is
derived from the def/ref tables of :mod:`retrieval.map_tables` with array operations, so
a process that loads saved tables never loads 24K files' symbols.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
# Part of the persisted cache's key: change it whenever a constant above or the layout changes.
GRAPH_FORMAT = f"g1-{MAX_DEFINERS}-{FOCUS_FILE_MUL}-{MENTIONED_MUL}-{LONG_NAME_MUL}-{PRIVATE_MUL}-{COMMON_MUL}-" \
               f"{UNREFERENCED_SELF_WEIGHT}-{DAMPING}-{SIGNATURE_CHARS}-{MAX_DEPTH}"


SPECIFIC_NAME, PRIVATE_NAME = 1, 2  # name_flags bits


def name_flags(name: str) -> int:
    """What the weight of ``name``'s edges depends on besides its number of definers (see :func:`name_weights`)."""
    flags = PRIVATE_NAME if name.startswith("_") else 0
    if len(name) < 8:  # ~400K names on a large tree: the character scans below only for long ones
        return flags
    has_alpha = any(map(str.isalpha, name))
    is_snake = "_" in name.strip("_") and has_alpha
    is_kebab = "-" in name and has_alpha
    is_camel = any(map(str.isupper, name)) and any(map(str.islower, name))
    return flags | (SPECIFIC_NAME if is_snake or is_kebab or is_camel else 0)


def name_weights(flags: Any, definers: Any) -> Any:
    """Aider's weight for edges of each name: specific names count more, private and common ones less."""
    import numpy as np

    flags, definers = np.asarray(flags), np.asarray(definers)
    return (np.where(flags & SPECIFIC_NAME, LONG_NAME_MUL, 1.0) * np.where(flags & PRIVATE_NAME, PRIVATE_MUL, 1.0)
            * np.where(definers > 5, COMMON_MUL, 1.0))


def shown(fs: FileSymbols) -> Iterable[SymbolDef]:
    """The definitions a map may show: top-level ones and their members."""
    return (d for d in fs.definitions if d.qualified_name.count(".") <= MAX_DEPTH)


def outline_line(d: SymbolDef) -> str:
    """One rendered row of the map: line number, indentation by depth, first signature line."""
    sig = " ".join(d.signature.strip().splitlines()[0].split()) if d.signature.strip() else d.name
    depth = d.qualified_name.count(".")
    return f"{d.start_line:>5}│{'    ' * depth}{sig[:SIGNATURE_CHARS]}"


@dataclass(frozen=True)
class MapRow:
    """A definition as the map shows it (what :meth:`MapGraph.ranked` hands out)."""

    path: str
    name: str
    qualified_name: str
    start_line: int
    text: str  # the rendered row
    parent: MapRow | None = None  # the class a method belongs to, shown above it


@dataclass
class Ranking:
    """PageRank for one focus, and the (definer, name) pairs ordered by the rank they receive (lazily)."""

    rank: Any  # per file
    totals: Any  # per (definer, name) pair with rows
    order: Any = None  # indices into totals, best first; a prefix until ``complete``
    complete: bool = False
    entries: list[tuple[str, MapRow | None, float]] = field(default_factory=list)
    next: int = 0
    files_done: bool = False


class MapGraph:
    """Files, names, the (referrer, name) and (definer, name) pairs, and the rows to render.

    Arrays (numpy): ``ref_file``/``ref_name`` (referenced names only), ``pair_file``/
    ``pair_name`` (sorted by file then name: the tie order), ``name_mul`` (base edge weight
    per name), ``referenced`` (per name), ``row_start`` (per pair, into the rows, length
    pairs + 1), ``pair_rows`` (row ids, per pair a run), ``row_file``/``row_line``/``row_parent``
    (per row).  Names are sorted, so a name's id does not depend on the order files were
    added: a map built incrementally equals one built cold.
    """

    def __init__(self, paths: list[str], names: Sequence[str], arrays: dict[str, Any], row_qnames: Sequence[str],
                 row_texts: Sequence[str]) -> None:
        import numpy as np

        self.paths = paths
        self.names = names
        self.a = arrays
        self.row_qnames = row_qnames
        self.row_texts = row_texts
        n, m = len(paths), len(names)
        self.n, self.m = n, m
        pair_name, pair_file = arrays["pair_name"], arrays["pair_file"]
        self.definers = np.bincount(pair_name, minlength=m) if m else np.zeros(0, dtype=np.int64)
        referenced = arrays["referenced"]
        unref = ~referenced[pair_name] if len(pair_name) else np.zeros(0, dtype=bool)
        self._unref_pairs = np.nonzero(unref)[0]
        self._ref_pairs = np.nonzero(~unref)[0]
        self._shown_pairs = np.nonzero(np.diff(arrays["row_start"]) > 0)[0]
        self._parts: dict[str, list[int]] | None = None
        self._rows: dict[int, MapRow] = {}
        self._shared: dict[str, Any] | None = None
        self._pair_file = pair_file

    # -- lookups -----------------------------------------------------------------------

    def name_id(self, name: str) -> int | None:
        """The id of a graph name (names are sorted), or None for a name outside the graph."""
        i = bisect.bisect_left(self.names, name)
        return i if i < self.m and self.names[i] == name else None

    def files_named(self, part: str) -> list[int]:
        """Files with ``part`` as a path component or file stem (Aider's mention match)."""
        if self._parts is None:
            parts: dict[str, list[int]] = {}
            for i, path in enumerate(self.paths):
                stem = path.rsplit("/", 1)[-1]
                for p in {*path.split("/"), stem.rsplit(".", 1)[0]}:
                    parts.setdefault(p, []).append(i)
            self._parts = parts
        return self._parts.get(part, [])

    def definer_files(self, name_id: int) -> Any:
        """The files defining graph name ``name_id``."""
        import numpy as np

        return self._pair_file[np.nonzero(self.a["pair_name"] == name_id)[0]]

    def row(self, row_id: int) -> MapRow:
        cached = self._rows.get(row_id)
        if cached is None:
            parent_id = int(self.a["row_parent"][row_id])
            qname = self.row_qnames[row_id]
            cached = self._rows[row_id] = MapRow(
                self.paths[int(self.a["row_file"][row_id])], qname.rsplit(".", 1)[-1], qname,
                int(self.a["row_line"][row_id]), self.row_texts[row_id],
                self.row(parent_id) if parent_id >= 0 else None)
        return cached

    # -- ranking -----------------------------------------------------------------------

    def _base(self) -> dict[str, Any]:
        """What every ranking shares, computed once: the referrer runs per name and the unfocused out-weights."""
        if self._shared is None:
            import numpy as np

            ref_name, ref_file, pair_name = self.a["ref_name"], self.a["ref_file"], self.a["pair_name"]
            name_mul = self.a["name_mul"]
            pairs, unref = self._ref_pairs, self._unref_pairs
            # The (referrer, name) pairs are ordered by name: each referenced name owns one run of them.
            referenced_ids, run_starts = np.unique(ref_name, return_index=True)
            run_ends = np.append(run_starts[1:], len(ref_name)).astype(np.int64)
            self._shared = {
                "referenced_ids": referenced_ids,
                "run_starts": run_starts,
                "ref_pair_file": self._pair_file[pairs],
                "ref_pair_name": pair_name[pairs],
                # out-weight of a file through its references, and of its self-loops (unreferenced names)
                "ref_out": np.bincount(ref_file, weights=(name_mul * self.definers)[ref_name], minlength=self.n),
                "self_w": np.bincount(self._pair_file[unref], weights=name_mul[pair_name[unref]], minlength=self.n),
                "path_index": {p: i for i, p in enumerate(self.paths)},
            }
            # name -> [start, end) of its referrers in ref_file (empty for an unreferenced name)
            self._shared["name_start"] = np.zeros(self.m, dtype=np.int64)
            self._shared["name_start"][referenced_ids] = run_starts
            self._shared["name_end"] = np.zeros(self.m, dtype=np.int64)
            self._shared["name_end"][referenced_ids] = run_ends
        return self._shared

    def _per_name(self, y: Any) -> Any:
        """For every name, the sum of ``y`` over the files referencing it (zero for unreferenced names)."""
        import numpy as np

        base = self._base()
        sums = np.zeros(self.m)
        if len(base["run_starts"]):
            sums[base["referenced_ids"]] = np.add.reduceat(y[self.a["ref_file"]], base["run_starts"])
        return sums

    def file_id(self, path: str) -> int | None:
        return self._base()["path_index"].get(path)

    def rank(self, focus_files: Sequence[int], mentioned: Sequence[str], *, tol: float = 1.0e-6,
             max_iter: int = 100) -> Ranking:
        """Personalised PageRank toward ``focus_files`` (ids) and ``mentioned`` names, and each pair's share.

        The same chain as PageRank on the edge graph: edges out of focus files weigh
        ``FOCUS_FILE_MUL`` more, edges of mentioned names ``MENTIONED_MUL`` more, and the
        walk teleports to the focus files, to files whose path mentions a name, and to the
        files defining a mentioned name.  Only the mentioned names' corrections are
        computed per question; the rest is shared (:meth:`_base`).
        """
        import numpy as np

        n = self.n
        if n == 0:
            return Ranking(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), True)
        base = self._base()
        ref_pair_file, ref_pair_name = base["ref_pair_file"], base["ref_pair_name"]
        pair_name = self.a["pair_name"]
        name_mul = self.a["name_mul"]
        file_mul = np.ones(n)
        file_mul[list(focus_files)] = FOCUS_FILE_MUL
        name_w = name_mul.copy()
        ref_out = base["ref_out"].copy()
        self_w = base["self_w"].copy()
        personal = np.zeros(n)
        personal[list(focus_files)] = 1.0
        for name in set(mentioned):
            personal[self.files_named(name)] = 1.0  # as Aider: a path component is mentioned
            name_i = self.name_id(name)
            if name_i is None:
                continue
            extra = (MENTIONED_MUL - 1.0) * name_mul[name_i]
            name_w[name_i] *= MENTIONED_MUL
            definers = self.definer_files(name_i)
            personal[definers] = 1.0  # unlike Aider: the files defining it too
            if self.a["referenced"][name_i]:
                users = self.a["ref_file"][base["name_start"][name_i]:base["name_end"][name_i]]
                ref_out[users] += extra * len(definers)
            else:
                self_w[definers] += extra
        p = personal if personal.any() else np.ones(n)
        p = p / p.sum()
        out = file_mul * (ref_out + self_w)
        dangling = out <= 0
        scale = np.divide(file_mul, out, out=np.zeros(n), where=~dangling)
        x = p.copy()
        for _ in range(max_iter):
            last = x
            y = x * scale
            weighted = (name_w * self._per_name(y))[ref_pair_name]
            spread = np.bincount(ref_pair_file, weights=weighted, minlength=n) + self_w * y
            x = DAMPING * (spread + x[dangling].sum() * p) + (1 - DAMPING) * p
            if np.abs(x - last).sum() < n * tol:
                break
        rank = x / x.sum()
        y = rank * scale
        totals = (name_w * self._per_name(y))[pair_name]
        unref = self._unref_pairs
        totals[unref] = name_w[pair_name[unref]] * y[self._pair_file[unref]]
        return Ranking(rank, totals[self._shown_pairs])

    def ranked(self, state: Ranking, limit: int | None) -> list[tuple[str, MapRow | None, float]]:
        """``(path, row or None, score)`` best first: shown definitions, then files without any.

        Only the first ``limit`` entries are guaranteed: ordering 100K+ pairs fully costs more
        than a question may, and a map shows a few hundred, so the best ``limit`` pairs are
        selected first (ties by lower file, then name) and the rest ordered only when asked.
        """
        import numpy as np

        entries = state.entries
        totals = state.totals
        while (limit is None or len(entries) < limit) and state.next < len(totals):
            if state.order is None or (state.next >= len(state.order) and not state.complete):
                state.order, state.complete = _best_first(totals, None if limit is None or state.order is not None
                                                          else limit)
            k = int(state.order[state.next])
            state.next += 1
            pair = int(self._shown_pairs[k])
            start, end = int(self.a["row_start"][pair]), int(self.a["row_start"][pair + 1])
            for row_id in self.a["pair_rows"][start:end]:
                row = self.row(int(row_id))
                entries.append((row.path, row, float(totals[k])))
        if (limit is None or len(entries) < limit) and not state.files_done:
            seen_files = {path for path, _, _ in entries}
            for i in np.argsort(-state.rank, kind="stable"):
                path = self.paths[int(i)]
                if path not in seen_files:
                    entries.append((path, None, float(state.rank[int(i)])))
            state.files_done = True
        return entries if limit is None else entries[:limit]


def _best_first(totals: Any, limit: int | None) -> tuple[Any, bool]:
    """Indices of ``totals`` best first, ties by lower index; only the best ``limit`` when given.

    Returns the order and whether it is complete.  The partial order holds every index
    tied with the ``limit``-th value, so it is a prefix of the full stable order.
    """
    import numpy as np

    if limit is None or limit >= len(totals):
        return np.argsort(-totals, kind="stable"), True
    threshold = np.partition(-totals, limit - 1)[limit - 1]
    chosen = np.nonzero(-totals <= threshold)[0]
    return chosen[np.argsort(-totals[chosen], kind="stable")], False
