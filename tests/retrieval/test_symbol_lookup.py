"""Name and path lookups by SQL give what the whole-table lookups gave, also after re-indexing.

Search, localization and ``definition`` used to load every file's symbols and build
dicts of all definitions to look a few names up; they now ask the index per name
(:meth:`IndexReader.definitions_named`, :meth:`IndexReader.files_with_basename`).  The
reference here is the old in-memory code, run over ``reader.symbols()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from base.config import IndexSettings
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from indexer.types import FileSymbols, SymbolDef
from retrieval.search import SymbolIndex
from retrieval.symbols import SymbolTable, find_definitions, match_rank

SETTINGS = IndexSettings(embeddings=False)


class OldSymbolIndex:
    """The whole-table lookup as it was before format 5 (the reference)."""

    def __init__(self, symbols: Mapping[str, FileSymbols], paths: list[str]) -> None:
        self.by_name: dict[str, list[SymbolDef]] = {}
        self.by_lower: dict[str, list[SymbolDef]] = {}
        for fs in symbols.values():
            for d in fs.definitions:
                self.by_name.setdefault(d.name, []).append(d)
                self.by_lower.setdefault(d.name.lower(), []).append(d)
        self.paths = sorted(set(paths) | set(symbols))
        self.by_basename: dict[str, list[str]] = {}
        for path in self.paths:
            self.by_basename.setdefault(path.rsplit("/", 1)[-1], []).append(path)

    def files_named(self, mention: str) -> list[str]:
        mention = mention.replace("\\", "/").lstrip("./")
        if mention in self.paths:
            return [mention]
        base = mention.rsplit("/", 1)[-1]
        return [p for p in self.by_basename.get(base, []) if p == mention or p.endswith("/" + mention)
                or mention.endswith("/" + p)]


def old_find_definitions(symbols: Mapping[str, FileSymbols], wanted: str) -> list[SymbolDef]:
    ranked = [(rank, d.path, d.start_line, d) for fs in symbols.values() for d in fs.definitions
              if (rank := match_rank(d, wanted)) is not None]
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked]


def _assert_same_lookups(reader: IndexReader) -> None:
    symbols = reader.symbols()
    old = OldSymbolIndex(symbols, reader.files())
    new = SymbolIndex(reader)
    defs = [d for fs in symbols.values() for d in fs.definitions]
    assert defs, "the sample repository defines something"
    names = {d.name for d in defs} | {d.qualified_name for d in defs} | {"no_such_name", "Order.no_such"}
    names |= {n.upper() for n in names} | {n.lower() for n in names}
    names |= {d.qualified_name.split(".", 1)[1] for d in defs if "." in d.qualified_name}  # suffixes
    for name in sorted(names):
        assert new.defined(name) == old.by_name.get(name, []), name
        assert new.defined_ignoring_case(name) == old.by_lower.get(name.lower(), []), name
        expected = old_find_definitions(symbols, name)
        assert find_definitions(reader, name) == expected, name
        assert find_definitions(SymbolTable(symbols), name) == expected, name
    mentions = set()
    for path in reader.files():
        parts = path.split("/")
        mentions |= {"/".join(parts[i:]) for i in range(len(parts))} | {"./" + path, "x/" + path}
    for mention in sorted(mentions | {"missing.py", "shopcore/missing.py"}):
        assert new.files_named(mention) == old.files_named(mention), mention


def test_sql_lookups_equal_the_whole_table_lookups(sample_repo_copy: Path) -> None:
    index_repository(sample_repo_copy, SETTINGS)
    with IndexReader.open(sample_repo_copy, SETTINGS) as reader:
        _assert_same_lookups(reader)
        assert SymbolIndex(reader).module_files("shopcore.pricing.tax") == ["shopcore/pricing/tax.py"]


def test_lookups_follow_a_rename_and_a_deleted_file(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    index_repository(repo, SETTINGS)
    tax = repo / "shopcore" / "pricing" / "tax.py"
    tax.write_text(tax.read_text().replace("def gross_price(", "def price_with_tax("))
    (repo / "shopcore" / "timeutil.py").unlink()
    with IndexReader.open(repo, SETTINGS) as reader:
        before = {d.path for d in SymbolIndex(reader).defined("gross_price")}
        assert "shopcore/pricing/tax.py" in before
        assert SymbolIndex(reader).files_named("timeutil.py") == ["shopcore/timeutil.py"]
        index_repository(repo, SETTINGS)
        assert "shopcore/pricing/tax.py" not in {d.path for d in SymbolIndex(reader).defined("gross_price")}
        assert [d.path for d in find_definitions(reader, "price_with_tax")] == ["shopcore/pricing/tax.py"]
        assert SymbolIndex(reader).files_named("timeutil.py") == []
        assert "shopcore/timeutil.py" not in reader.symbols()
        _assert_same_lookups(reader)
