"""Navigation over the real index of sample_repo (outline, references) and the watcher's ignore rules."""

from __future__ import annotations

from pathlib import Path

from assistant.freshness import IgnoreFilter
from indexer.reader import IndexReader
from retrieval.symbols import find_references, outline
from tests.mcp.conftest import bm25_settings


def test_outline_lists_a_files_definitions_in_source_order(indexed_repo: Path) -> None:
    with IndexReader.open(indexed_repo, bm25_settings().index) as reader:
        defs = outline(reader.symbols(), "shopcore/models/order.py")
    names = [d.qualified_name for d in defs]
    assert names.index("Order") < names.index("Order.total")
    assert [d.start_line for d in defs] == sorted(d.start_line for d in defs)
    assert all(d.path == "shopcore/models/order.py" for d in defs)


def test_references_skip_the_definition_and_prefer_attribute_uses_for_qualified_names(indexed_repo: Path) -> None:
    with IndexReader.open(indexed_repo, bm25_settings().index) as reader:
        symbols = reader.symbols()
        plain = find_references(symbols, "quantize_money", reader.chunks_for_file)
        qualified = find_references(symbols, "Order.total", reader.chunks_for_file)
        limited = find_references(symbols, "quantize_money", reader.chunks_for_file, limit=2)
        nothing = find_references(symbols, "no_such_name_anywhere", reader.chunks_for_file)
    assert plain and all("quantize_money" in r.text for r in plain)
    assert not any(r.text.startswith("def quantize_money") for r in plain)
    assert len({r.path for r in plain}) > 1
    assert qualified and all(".total" in r.text or r.path == "shopcore/models/order.py" for r in qualified)
    assert not any(r.text.startswith("def total") for r in qualified)
    assert len(limited) == 2 and nothing == []


def test_the_watcher_ignores_what_the_indexer_ignores(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    (repo / ".gitignore").write_text("build-output/\n*.log\n")
    (repo / "shopcore" / ".gitignore").write_text("generated_*.py\n")
    relevant = IgnoreFilter(repo, bm25_settings().index).relevant
    assert relevant(str(repo / "shopcore" / "models" / "order.py"))
    assert relevant(str(repo / ".gitignore"))  # changes what is indexed
    assert not relevant(str(repo / ".repo-assistant" / "index" / "index.sqlite"))
    assert not relevant(str(repo / ".git" / "index"))
    assert not relevant(str(repo / "node_modules" / "x" / "index.js"))
    assert not relevant(str(repo / "build-output" / "a.py"))
    assert not relevant(str(repo / "debug.log"))
    assert not relevant(str(repo / "shopcore" / "generated_models.py"))
    assert relevant(str(repo / "generated_models.py"))  # the nested rule applies below its folder only
    assert not relevant(str(repo / ".env"))  # a secret file is never indexed
    assert not relevant("/etc/passwd")
