"""A context reads the symbols of the files it needs, not the whole table, and gets the same ones.

On a kernel-sized tree ``IndexReader.symbols()`` decodes 24K files (seconds); building one
context needs the active file's symbols, the files it imports and a definition's outline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from base.config import IndexSettings, RetrievalSettings
from base.tokens import estimate_tokens
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from retrieval.context import build_context
from retrieval.types import Target

SETTINGS = IndexSettings(embeddings=False)


@pytest.fixture
def reader(sample_repo_copy: Path):
    index_repository(sample_repo_copy, SETTINGS)
    with IndexReader.open(sample_repo_copy, SETTINGS) as opened:
        yield opened


def test_the_view_reads_each_file_as_the_whole_table_has_it(reader: IndexReader) -> None:
    view = reader.symbol_view()
    full = IndexReader.open(reader.repo, SETTINGS).symbols()  # another reader: this one stays lazy
    assert full, "the sample has symbols"
    for path, symbols in full.items():
        assert view[path] == symbols
        assert path in view
        assert reader.file_symbols(path) == symbols
    assert "no/such/file.py" not in view
    assert view.get("no/such/file.py") is None
    assert reader.file_symbols("no/such/file.py") is None
    assert len(view) == len(full) and sorted(view) == sorted(full)


def test_a_context_never_loads_the_whole_table_and_equals_one_built_from_it(
        reader: IndexReader, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = RetrievalSettings(repo_map_tokens=0)  # the map has its own cache (test_map_cache.py)

    def build():
        return build_context(reader, Target("shopcore/services/order_service.py", 75, 8), "how is the order total computed?", 3000,
                             estimate_tokens, repo=reader.repo, settings=settings)

    def refuse() -> None:
        raise AssertionError("build_context loaded the whole symbol table")

    with monkeypatch.context() as patch:
        patch.setattr(reader, "symbols", refuse)
        lazy = build()
    reader.symbols()  # loaded now: the view hands out the loaded table
    assert reader.symbol_view() is reader.symbols()
    eager = build()
    assert [(i.path, i.start_line, i.end_line, i.reason) for i in lazy.items] == \
        [(i.path, i.start_line, i.end_line, i.reason) for i in eager.items]
    assert any(i.reason.startswith("definition of") for i in lazy.items), "nothing exercised the symbols"
