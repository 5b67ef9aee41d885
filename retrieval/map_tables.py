"""The repo map's def/ref tables as integer columns: patched file by file, saved by content, ranked as a graph.

The map's graph (:mod:`retrieval.map_graph`) needs, for every name, the files that define it
and the files that reference it.  Built as Python sets from every file's symbols, that took
~5 s on a 24K-file tree, and it was rebuilt from the whole symbol table after every edit,
because none of it could be saved.  Held as columns of ``(file, name)`` pairs it is:

- **patched**: an edit replaces the rows of the files that changed, so bringing the tables up
  to date reads those files' symbols from the index, not the whole table;
- **saved** by content (:mod:`retrieval.map_store`), so a new process after an edit starts
  from the previous content's tables instead of from nothing;
- **turned into the graph** with array operations only (:meth:`MapTables.graph`): the graph
  shares the tables' names and outline rows instead of copying them.

Names are kept sorted (a name's id does not depend on the order files came in) and a file's
rows stay in source order, so tables patched edit by edit rank exactly as tables built cold.
Rows of removed or edited files are marked dead, and names nothing uses any more stay, until
they are a quarter of all: most edits then copy no string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from indexer.types import FileSymbols, IndexContent, SymbolDef
from retrieval.map_graph import (
    MAX_DEFINERS,
    UNREFERENCED_SELF_WEIGHT,
    MapGraph,
    name_flags,
    name_weights,
    outline_line,
    shown,
)
from retrieval.packed_strings import PackedStrings

TABLES_FORMAT = "t1"  # part of the saved tables' key: change it with the layout below
_INT_COLUMNS = {"name_flags": "uint8", "def_file": "int32", "def_name": "int32", "ref_file": "int32",
                "ref_name": "int32", "row_file": "int32", "row_name": "int32", "row_line": "int32",
                "row_parent": "int32"}
_SHARED_WITH_GRAPH = ("row_file", "row_line", "row_parent")  # the graph's rows are the tables' rows
_GRAPH_COLUMNS = ("ref_file", "ref_name", "pair_file", "pair_name", "name_mul", "referenced", "row_start", "pair_rows")
_STRING_COLUMNS = ("paths", "names", "row_qnames", "row_texts", "content_paths", "content_hashes")
DEAD_SHARE = 0.25  # rows of removed files, and names nothing uses, are kept until they are this share of all


@dataclass
class MapTables:
    """Who defines and who references every name, and the definitions a map may show, as columns.

    ``def_*``: distinct ``(file, name)`` pairs of every definition (any depth: a name's number
    of definers counts nested ones too); ``ref_*``: distinct ``(file, name)`` references;
    ``row_*``: the definitions a map shows (top level and members, one per line and qualified
    name), each file's rows together in source order, ``row_parent`` the row of the class a
    member belongs to (-1: none), ``row_file`` -1 for a dead row.  ``content`` and ``version``
    say which index content the tables describe (empty for a symbol mapping's tables).
    """

    paths: list[str] = field(default_factory=list)  # files with symbols, sorted
    names: PackedStrings = field(default_factory=PackedStrings)  # every name defined or referenced, sorted
    columns: dict[str, Any] = field(default_factory=dict)  # _INT_COLUMNS, as numpy arrays
    row_qnames: PackedStrings = field(default_factory=PackedStrings)
    row_texts: PackedStrings = field(default_factory=PackedStrings)
    content_paths: PackedStrings = field(default_factory=PackedStrings)  # sorted; with content_hashes: content
    content_hashes: PackedStrings = field(default_factory=PackedStrings)
    version: str = ""
    _graph_arrays: dict[str, Any] | None = field(default=None, repr=False)
    _content: IndexContent | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import numpy as np

        for name, dtype in _INT_COLUMNS.items():
            self.columns.setdefault(name, np.zeros(0, dtype=dtype))

    @property
    def content(self) -> IndexContent:
        """The index content these tables describe (decoded on first use: only a patch needs it)."""
        if self._content is None:
            self._content = IndexContent(self.version, dict(zip(self.content_paths.to_list(),
                                                                self.content_hashes.to_list(), strict=True)))
        return self._content

    def patch(self, changed: Mapping[str, FileSymbols | None], content: IndexContent | None = None) -> MapTables:
        """New tables with the rows of every path in ``changed`` replaced by its symbols (``None``: removed).

        ``content`` is the index content the result stands for; left out, the result stands
        for no index content (a symbol mapping's tables).
        """
        import numpy as np

        cols = self.columns
        added = {path: fs for path, fs in changed.items() if fs is not None}
        paths = sorted({*(p for p in self.paths if p not in changed), *added})
        file_id = {p: i for i, p in enumerate(paths)}
        # Old file id -> new one, -1 for a changed file; the extra last entry maps a dead row's -1 to -1.
        old_to_new = np.asarray([-1 if p in changed else file_id[p] for p in self.paths] + [-1], dtype=np.int64)
        names, renumber, name_id, missing = self._with_names(added.values())
        new = _NewRows(len(cols["row_file"]), name_id.__getitem__)
        for path in sorted(added):
            new.add_file(file_id[path], added[path])
        out = {"name_flags": np.zeros(len(names), dtype=np.uint8)}
        out["name_flags"][renumber] = cols["name_flags"]
        out["name_flags"][[name_id[name] for name in missing]] = [name_flags(name) for name in missing]
        for kind in ("def", "ref"):
            alive = old_to_new[cols[f"{kind}_file"]] >= 0
            out[f"{kind}_file"] = np.concatenate([old_to_new[cols[f"{kind}_file"][alive]], new.files[kind]])
            out[f"{kind}_name"] = np.concatenate([renumber[cols[f"{kind}_name"][alive]], new.names[kind]])
        out["row_file"] = np.concatenate([old_to_new[cols["row_file"]], new.row_file])  # -1 (dead) stays -1
        out["row_name"] = np.concatenate([renumber[cols["row_name"]], new.row_name])
        out["row_line"] = np.concatenate([cols["row_line"], new.row_line])
        out["row_parent"] = np.concatenate([cols["row_parent"], new.row_parent])
        out = {name: np.asarray(column, dtype=_INT_COLUMNS[name]) for name, column in out.items()}
        content = content or IndexContent("")
        content_paths = sorted(content.hashes)
        tables = MapTables(paths, names, out, self.row_qnames.extended(new.row_qnames),
                           self.row_texts.extended(new.row_texts), PackedStrings.pack(content_paths),
                           PackedStrings.pack([content.hashes[p] for p in content_paths]), content.version,
                           _content=content)
        return tables._compacted()

    def _with_names(self, files: Any) -> tuple[PackedStrings, Any, dict[str, int], list[str]]:
        """The sorted names with those of ``files`` added, old id -> new id, the files' names' ids, the new names."""
        import numpy as np

        wanted: set[str] = set()
        for fs in files:
            wanted.update(d.name for d in fs.definitions)
            wanted.update(fs.references)
        missing = sorted(wanted - _ids_of(self.names, wanted).keys())
        positions = [self.names.bisect_left(name) for name in missing] if len(self.names) else [0] * len(missing)
        names = self.names.inserted(positions, missing)
        # An old name moves up by the number of new names inserted at or before its place.
        renumber = np.arange(len(self.names), dtype=np.int64) + np.searchsorted(
            np.asarray(positions, dtype=np.int64), np.arange(len(self.names)), side="right")
        return names, renumber, _ids_of(names, wanted), missing

    def _compacted(self) -> MapTables:
        """Drop dead rows, and names nothing uses, once they are ``DEAD_SHARE`` of all (renumbering ids)."""
        import numpy as np

        cols = self.columns
        alive = cols["row_file"] >= 0
        if len(alive) and (~alive).sum() > DEAD_SHARE * len(alive):
            kept = np.nonzero(alive)[0]
            renumber = np.full(len(alive), -1, dtype=np.int64)
            renumber[kept] = np.arange(len(kept))
            parent = cols["row_parent"][kept]
            for name in ("row_file", "row_name", "row_line"):
                cols[name] = cols[name][kept]
            cols["row_parent"] = np.where(parent >= 0, renumber[np.maximum(parent, 0)], -1).astype(np.int32)
            self.row_qnames, self.row_texts = self.row_qnames.take(kept), self.row_texts.take(kept)
        used = np.zeros(len(self.names), dtype=bool)
        used[cols["def_name"]] = True  # a row's name is one of its file's definitions
        used[cols["ref_name"]] = True
        if len(used) and (~used).sum() > DEAD_SHARE * len(used):
            renumber = np.cumsum(used) - 1
            for name in ("def_name", "ref_name", "row_name"):  # a dead row's name may go: it is never read
                cols[name] = np.maximum(renumber[cols[name]], 0).astype(np.int32)
            cols["name_flags"] = cols["name_flags"][used]
            self.names = self.names.take(np.nonzero(used)[0])
        return self

    # -- the graph -------------------------------------------------------------------

    def graph(self) -> MapGraph:
        """The ranked structure: names with 1..MAX_DEFINERS definers and their pairs and rows.

        Every name keeps its id (a name outside the graph has no pairs, so it changes no rank),
        and the graph's rows are the tables' rows: nothing is copied but integer columns.  The
        integer columns are derived once and saved with the tables (sorting them is most of a
        new process's cost of loading the map).
        """

        return MapGraph(self.paths, self.names, self._graph_columns(), self.row_qnames, self.row_texts)

    def _graph_columns(self) -> dict[str, Any]:
        if self._graph_arrays is None:
            self._graph_arrays = self._derive_graph_columns()
        return self._graph_arrays

    def _derive_graph_columns(self) -> dict[str, Any]:
        import numpy as np

        cols = self.columns
        m = len(self.names)
        definers = np.bincount(cols["def_name"], minlength=m)
        in_graph = (definers > 0) & (definers <= MAX_DEFINERS)
        n = max(len(self.paths), 1)
        # (referrer, name) pairs of graph names, by name: each name owns one run (MapGraph._base).
        refs = np.nonzero(in_graph[cols["ref_name"]])[0]
        by_name = refs[np.argsort(cols["ref_name"][refs].astype(np.int64) * n + cols["ref_file"][refs])]
        referenced = np.zeros(m, dtype=bool)
        referenced[cols["ref_name"][refs]] = True
        name_mul = np.where(referenced, name_weights(cols["name_flags"], definers), UNREFERENCED_SELF_WEIGHT)
        # (definer, name) pairs by file then name: the ranking's tie order.
        defs = np.nonzero(in_graph[cols["def_name"]])[0]
        pair_key = cols["def_file"][defs].astype(np.int64) * max(m, 1) + cols["def_name"][defs]
        by_file = np.argsort(pair_key)
        defs, pair_key = defs[by_file], pair_key[by_file]
        pair_file, pair_name = cols["def_file"][defs], cols["def_name"][defs]
        # Each pair's rows: the living shown definitions of that name in that file, in source order
        # (a file's rows are stored together in source order: a stable sort keeps it).
        rows = np.nonzero((cols["row_file"] >= 0) & in_graph[cols["row_name"]])[0]
        row_key = cols["row_file"][rows].astype(np.int64) * max(m, 1) + cols["row_name"][rows]
        by_key = np.argsort(row_key, kind="stable")
        rows, row_key = rows[by_key], row_key[by_key]
        return {
            "ref_file": cols["ref_file"][by_name],
            "ref_name": cols["ref_name"][by_name],
            "pair_file": pair_file,
            "pair_name": pair_name,
            "name_mul": name_mul.astype(np.float64),
            "referenced": referenced,
            "row_start": np.append(np.searchsorted(row_key, pair_key), len(row_key)).astype(np.int64),
            "pair_rows": rows.astype(np.int32),
            "row_file": cols["row_file"],
            "row_line": cols["row_line"],
            "row_parent": cols["row_parent"],
        }

    # -- persistence -----------------------------------------------------------------

    def arrays(self) -> dict[str, Any]:
        """Everything needed to rebuild these tables, as numpy arrays (see :mod:`retrieval.map_store`)."""
        import numpy as np

        out = dict(self.columns)
        strings = {"paths": PackedStrings.pack(self.paths), "names": self.names, "row_qnames": self.row_qnames,
                   "row_texts": self.row_texts, "content_paths": self.content_paths,
                   "content_hashes": self.content_hashes}
        for name, packed in strings.items():
            out.update(packed.arrays(name))
        out["version"] = np.frombuffer(self.version.encode("utf-8"), dtype=np.uint8)
        graph = self._graph_columns()
        out.update({f"graph.{name}": graph[name] for name in _GRAPH_COLUMNS})
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> MapTables:
        strings = {name: PackedStrings.from_arrays(arrays, name) for name in _STRING_COLUMNS}
        columns = {name: arrays[name] for name in _INT_COLUMNS}
        graph = {name: arrays[f"graph.{name}"] for name in _GRAPH_COLUMNS}  # KeyError: not our file, rebuilt
        graph.update({name: columns[name] for name in _SHARED_WITH_GRAPH})
        return cls(strings["paths"].to_list(), strings["names"], columns, strings["row_qnames"],
                   strings["row_texts"], strings["content_paths"], strings["content_hashes"],
                   arrays["version"].tobytes().decode("utf-8"), graph)


def _ids_of(names: PackedStrings, wanted: set[str]) -> dict[str, int]:
    """The ids of the ``wanted`` names that are in the sorted ``names``: by binary search for a
    few (an edit), by one pass over all for many (a cold build)."""
    if len(wanted) * 16 > len(names):
        return dict(zip(names.to_list(), range(len(names)), strict=True))  # more than wanted: harmless
    found = {}
    for name in wanted:
        i = names.bisect_left(name)
        if i < len(names) and names[i] == name:
            found[name] = i
    return found


class _NewRows:
    """The columns of the files being added, gathered in Python before they become arrays."""

    def __init__(self, first_row: int, name_id: Callable[[str], int]) -> None:
        self.first_row = first_row
        self.name_id = name_id
        self.files: dict[str, list[int]] = {"def": [], "ref": []}
        self.names: dict[str, list[int]] = {"def": [], "ref": []}
        self.row_file: list[int] = []
        self.row_name: list[int] = []
        self.row_line: list[int] = []
        self.row_parent: list[int] = []
        self.row_qnames: list[str] = []
        self.row_texts: list[str] = []

    def add_file(self, file_i: int, fs: FileSymbols) -> None:
        for kind, names in (("def", {d.name for d in fs.definitions}), ("ref", set(fs.references))):
            self.files[kind].extend([file_i] * len(names))
            self.names[kind].extend(map(self.name_id, names))  # any order: the graph sorts the pairs
        # One row per shown (line, qualified name); a member's parent is the first definition of its class.
        row_of: dict[tuple[int, str], int] = {}
        rows: list[SymbolDef] = []
        for d in shown(fs):
            if (d.start_line, d.qualified_name) not in row_of:
                row_of[(d.start_line, d.qualified_name)] = self.first_row + len(self.row_file) + len(rows)
                rows.append(d)
        first: dict[str, SymbolDef] = {}
        for d in fs.definitions:
            first.setdefault(d.qualified_name, d)
        for d in rows:
            parent = first.get(d.qualified_name.rpartition(".")[0]) if "." in d.qualified_name else None
            self.row_parent.append(-1 if parent is None else row_of.get((parent.start_line, parent.qualified_name), -1))
            self.row_file.append(file_i)
            self.row_name.append(self.name_id(d.name))
            self.row_line.append(d.start_line)
            self.row_qnames.append(d.qualified_name)
            self.row_texts.append(outline_line(d))
