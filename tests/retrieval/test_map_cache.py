"""The repo map's ranked structure is cached by the repository's content, never by the question."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from base.config import IndexSettings
from indexer.reader import IndexReader
from indexer.types import FileSymbols, IndexContent
from retrieval import map_store, repo_map
from retrieval.map_tables import MapTables
from retrieval.repo_map import RepoMap, build_repo_map
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


class Counted:
    """An index that counts how much of the symbol table the map read: all of it, or files by key."""

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self.loads = 0
        self.files: list[str] = []

    def content(self) -> IndexContent:
        return self.reader.content()

    def symbols(self) -> Mapping[str, FileSymbols]:
        self.loads += 1
        return self.reader.symbols()

    def file_symbols(self, path: str) -> FileSymbols | None:
        self.files.append(path)
        return self.reader.file_symbols(path)


def _map(index: Counted, process: str, names: tuple[str, ...]) -> str:
    """The map as a process builds it: the same process keeps its in-memory map, a new one starts without."""
    if process == "new":
        repo_map._SHARED.clear()
    return build_repo_map(index, 400, whitespace_tokens, ["shop/orders.py"], names, cache_key=str(index.reader.repo))


def _uncached(reader: IndexReader, names: tuple[str, ...]) -> str:
    return build_repo_map(reader.symbols(), 400, whitespace_tokens, ["shop/orders.py"], names,
                          cache_key=f"{reader.repo}:uncached")


def test_a_new_question_in_a_new_process_hits_the_cache_without_symbols(repo: Path) -> None:
    reader = _index(repo)
    first = Counted(reader)
    assert _map(first, "same", ("total",)) == _uncached(reader, ("total",))
    assert first.loads == 1  # no earlier tables: the whole symbol table, once

    for names in [("parse_header",), ("Money", "round_money"), ()]:  # questions never asked before
        second = Counted(reader)
        assert _map(second, "new", names) == _uncached(reader, names)
        assert _map(Counted(reader), "same", names) == _uncached(reader, names)  # warm process too
        assert (second.loads, second.files) == (0, [])


def _change(repo: Path, change: str) -> str:
    """Edit, add or remove one file; returns its path."""
    headers = repo / "shop/http/headers.py"
    if change == "edit":
        headers.write_text(headers.read_text() + "\n\ndef parse_cookie(line: str) -> dict:\n    return {}\n")
    elif change == "add":
        (repo / "shop/cookies.py").write_text("def parse_cookie(line: str) -> dict:\n    return {}\n")
        return "shop/cookies.py"
    else:
        headers.unlink()
    return "shop/http/headers.py"


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
@pytest.mark.parametrize("process", ["same", "new"])
def test_after_a_change_only_the_changed_file_is_read(repo: Path, change: str, process: str) -> None:
    reader = _index(repo)
    before = reader.content_digest()
    _map(Counted(reader), "same", ())
    reader.close()
    changed = _change(repo, change)
    reader = _index(repo)
    assert reader.content_digest() != before
    index = Counted(reader)
    text = _map(index, process, ("parse_cookie",))
    assert (index.loads, index.files) == (0, [changed])  # the previous content's tables, patched
    assert text == _uncached(reader, ("parse_cookie",))
    assert ("parse_cookie" in text) == (change != "remove")
    assert ("shop/http/headers.py" in text) == (change != "remove")


def test_other_chunking_settings_rebuild_the_tables(repo: Path) -> None:
    reader = _index(repo)
    _map(Counted(reader), "same", ())
    reader.close()
    from indexer.pipeline import index_repository

    settings = IndexSettings(embeddings=False, chunk_tokens=SETTINGS.chunk_tokens // 2)
    index_repository(repo, settings, embeddings=False)  # every file re-chunked, same bytes
    index = Counted(IndexReader.open(repo, settings))
    _map(index, "new", ())
    assert index.loads == 1  # the digest changed with the settings, and no tables of theirs are reused


def test_reindexing_the_same_content_keeps_the_digest(repo: Path) -> None:
    reader = _index(repo)
    digest = reader.content_digest()
    reader.close()
    (repo / "shop/orders.py").touch()  # a new mtime, the same bytes
    assert _index(repo).content_digest() == digest


def _edits() -> list[dict[str, str]]:
    """Successive contents of the mini repository: an edit, an addition, a removal, and back."""
    edited = dict(FILES)
    edited["shop/http/headers.py"] += "\n\ndef parse_cookie(line: str) -> dict:\n    return {}\n"
    added = dict(edited)
    added["shop/extra.py"] = "from shop.orders import Order\n\n\ndef refund(order: Order) -> None:\n    pass\n"
    removed = dict(added)
    del removed["shop/pricing/discounts.py"]
    renamed = dict(removed)
    renamed["shop/pricing/money.py"] = renamed["shop/pricing/money.py"].replace("Money", "Amount")
    return [edited, added, removed, renamed, dict(FILES)]


def test_a_warm_map_equals_a_cold_one() -> None:
    warm = RepoMap()
    warm.update(symbols())
    for files in _edits():
        for focus, names in FOCUSES:
            warm.render(300, whitespace_tokens, focus, names)  # rankings cached for the old content
        warm.update(symbols(files))
        cold = RepoMap()
        cold.update(symbols(files))
        for focus, names in FOCUSES:
            expected = cold.render(300, whitespace_tokens, focus, names)
            assert expected and warm.render(300, whitespace_tokens, focus, names) == expected


def test_patched_tables_equal_cold_ones_and_survive_saving() -> None:
    tables = MapTables()
    previous: dict[str, FileSymbols] = {}
    for files in _edits() * 3:  # enough edits to drop dead rows and unused names on the way
        now = symbols(files)
        changed = {p: now.get(p) for p in previous.keys() | now.keys() if previous.get(p) != now.get(p)}
        tables = MapTables.from_arrays(tables.patch(changed).arrays())  # as a new process loads it
        previous = now
        cold = MapTables().patch(now).graph()
        warm = tables.graph()
        for focus, names in FOCUSES:
            ids = [cold.file_id(p) for p in focus]
            assert RepoMap.to_text(warm.ranked(warm.rank(ids, names), 100)) == \
                RepoMap.to_text(cold.ranked(cold.rank(ids, names), 100))
    assert len(tables.columns["row_file"]) < 2 * len(MapTables().patch(previous).columns["row_file"])


def test_an_unreadable_cache_file_is_rebuilt(repo: Path) -> None:
    reader = _index(repo)
    digest = reader.content_digest()
    map_store.cache_dir().mkdir(parents=True, exist_ok=True)
    (map_store.cache_dir() / f"{map_store.tables_key(digest)}.npz").write_bytes(b"not a graph")
    index = Counted(reader)
    assert _map(index, "new", ("total",)) == _uncached(reader, ("total",))
    assert index.loads == 1
    assert map_store.load(digest) is not None  # replaced by a good one


def test_renaming_again_and_again_keeps_the_tables_small() -> None:
    files = dict(FILES)
    tables = MapTables().patch(symbols(files))
    for k in range(40):  # every edit gives money.py's definitions new names
        files["shop/pricing/money.py"] = FILES["shop/pricing/money.py"].replace("Money", f"Money{k}") \
            .replace("round_money", f"round_money_{k}")
        tables = tables.patch({"shop/pricing/money.py": symbols(files)["shop/pricing/money.py"]})
    cold = MapTables().patch(symbols(files))
    assert len(tables.names) <= len(cold.names) / (1 - 0.25) + 1
    assert len(tables.columns["row_file"]) <= len(cold.columns["row_file"]) / (1 - 0.25) + 1
    for focus, names in FOCUSES:
        warm_graph, cold_graph = tables.graph(), cold.graph()
        ids = [cold_graph.file_id(p) for p in focus]
        assert RepoMap.to_text(warm_graph.ranked(warm_graph.rank(ids, names), 100)) == \
            RepoMap.to_text(cold_graph.ranked(cold_graph.rank(ids, names), 100))
