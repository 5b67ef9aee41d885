"""The repo map's ranked structure is cached by the repository's content, never by the question."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from base.config import IndexSettings
from indexer.reader import IndexReader
from indexer.types import FileSymbols
from retrieval import map_store
from retrieval.map_graph import MapGraph
from retrieval.repo_map import RepoMap, build_repo_map, index_digest
from tests.retrieval.minirepo import FILES, symbols, whitespace_tokens

SETTINGS = IndexSettings(embeddings=False)
FOCUSES = [((), ()), (("shop/orders.py",), ()), ((), ("parse_header",)), (("shop/orders.py",), ("Money", "total"))]


def _index(repo: Path) -> IndexReader:
    from indexer.pipeline import index_repository

    index_repository(repo, SETTINGS, embeddings=False)
    return IndexReader.open(repo, SETTINGS)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for path, text in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


class Loads:
    """A symbol source that counts how often the map needed the symbol table."""

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self.calls = 0

    def __call__(self) -> Mapping[str, FileSymbols]:
        self.calls += 1
        return self.reader.symbols()


def _map(reader: IndexReader, process: str, names: tuple[str, ...], source: Callable[[], object]) -> str:
    """The map as a process named ``process`` builds it (each name has its own in-memory map)."""
    return build_repo_map(source, 400, whitespace_tokens, ["shop/orders.py"], names,  # type: ignore[arg-type]
                          cache_key=f"{reader.repo}:{process}", content_digest=index_digest(reader))


def _uncached(reader: IndexReader, names: tuple[str, ...]) -> str:
    return build_repo_map(reader.symbols(), 400, whitespace_tokens, ["shop/orders.py"], names,
                          cache_key=f"{reader.repo}:uncached-{reader.generation}")


def test_a_new_question_in_a_new_process_hits_the_cache_without_symbols(repo: Path) -> None:
    reader = _index(repo)
    loads = Loads(reader)
    cold = _map(reader, "first", ("total",), loads)
    assert loads.calls == 1 and cold == _uncached(reader, ("total",))

    def no_symbols() -> Mapping[str, FileSymbols]:
        raise AssertionError("a saved graph needs no symbol table")

    for names in [("parse_header",), ("Money", "round_money"), ()]:  # questions never asked before
        assert _map(reader, "second", names, no_symbols) == _uncached(reader, names)
        assert _map(reader, "first", names, no_symbols) == _uncached(reader, names)  # warm process too


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_the_cache_misses_when_the_content_changes(repo: Path, change: str) -> None:
    reader = _index(repo)
    before = index_digest(reader)
    _map(reader, "first", (), Loads(reader))
    reader.close()
    headers = repo / "shop/http/headers.py"
    if change == "edit":
        headers.write_text(headers.read_text() + "\n\ndef parse_cookie(line: str) -> dict:\n    return {}\n")
    elif change == "add":
        (repo / "shop/cookies.py").write_text("def parse_cookie(line: str) -> dict:\n    return {}\n")
    else:
        headers.unlink()
    reader = _index(repo)
    assert index_digest(reader) != before
    loads = Loads(reader)
    text = _map(reader, "first", ("parse_cookie",), loads)
    assert loads.calls == 1  # rebuilt from the new symbols, not read from the old cache
    assert text == _uncached(reader, ("parse_cookie",))
    assert ("parse_cookie" in text) == (change != "remove")
    assert ("shop/http/headers.py" in text) == (change != "remove")


def test_reindexing_the_same_content_keeps_the_digest(repo: Path) -> None:
    reader = _index(repo)
    digest = index_digest(reader)
    reader.close()
    (repo / "shop/orders.py").touch()  # a new mtime, the same bytes
    assert index_digest(_index(repo)) == digest


def test_a_warm_map_equals_a_cold_one() -> None:
    warm = RepoMap()
    warm.update(symbols())
    changed = dict(FILES)
    changed["shop/http/headers.py"] += "\n\ndef parse_cookie(line: str) -> dict:\n    return {}\n"
    changed["shop/extra.py"] = "from shop.orders import Order\n\n\ndef refund(order: Order) -> None:\n    pass\n"
    del changed["shop/pricing/discounts.py"]
    for focus, names in FOCUSES:
        warm.render(300, whitespace_tokens, focus, names)  # rankings cached for the old content
    warm.update(symbols(changed))
    cold = RepoMap()
    cold.update(symbols(changed))
    saved = MapGraph.from_arrays(cold.graph().arrays())  # as a new process loads it
    for focus, names in FOCUSES:
        expected = cold.render(300, whitespace_tokens, focus, names)
        assert warm.render(300, whitespace_tokens, focus, names) == expected
        ids = [i for i in (saved.file_id(p) for p in focus) if i is not None]
        assert RepoMap.to_text(saved.ranked(saved.rank(ids, names), 100)) == \
            RepoMap.to_text(cold.ranked(focus, names, limit=100))


def test_an_unreadable_cache_file_is_rebuilt(repo: Path) -> None:
    reader = _index(repo)
    digest = index_digest(reader)
    map_store.cache_dir().mkdir(parents=True, exist_ok=True)
    (map_store.cache_dir() / f"{map_store.graph_key(digest)}.npz").write_bytes(b"not a graph")
    loads = Loads(reader)
    assert _map(reader, "first", ("total",), loads) == _uncached(reader, ("total",))
    assert loads.calls == 1
    assert map_store.load(digest) is not None  # replaced by a good one
