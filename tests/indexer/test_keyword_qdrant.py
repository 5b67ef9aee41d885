"""The keyword side in Qdrant (``index.qdrant_keywords``), against two engines.

qdrant-client's local mode (``local:DIR``) speaks the client API a server does but searches
in Python; Qdrant Edge (``edge:DIR``, :mod:`tests.indexer.edge_client`) runs the Rust engine a
server runs.  The flows that index, search and fall back run on both, so the collection's
layout, the incremental bookkeeping and the scores are checked against the real sparse
index; what a server adds on top (HTTP/gRPC, a cluster's shards, many concurrent readers)
is not tested here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from base.config import IndexSettings
from indexer import keyword_points, vectors
from indexer.bm25 import Bm25Searcher, lookup_terms
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from indexer.tokenize import code_tokens
from indexer.vectors import point_id
from tests.conftest import run_cli
from tests.indexer.edge_client import PREFIX as EDGE
from tests.indexer.edge_client import EdgeClient

QUERIES = ["OrderService", "apply discount coupon", "stock reservation expires", "vat rounding cents",
           "InsufficientStockError", "normalise_sku", "sales report last day", "render_order",
           "customer email address", "parse json request body", "ReservationManager release"]


@pytest.fixture(params=["local", "edge"])
def server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a keyword store: qdrant-client's local mode, or Qdrant Edge behind the client's calls."""
    if request.param == "local":
        return f"local:{tmp_path / 'qdrant'}"
    real = vectors.make_client

    def make_client(url: str, api_key: str = "") -> Any:
        return EdgeClient(url) if url.startswith(EDGE) else real(url, api_key)

    monkeypatch.setattr(vectors, "make_client", make_client)  # the reader imports it from there
    monkeypatch.setattr(keyword_points, "make_client", make_client)
    return f"{EDGE}{tmp_path / 'edge'}"


def _settings(url: str, keywords: bool = True) -> IndexSettings:
    return IndexSettings(embeddings=False, qdrant_url=url, qdrant_keywords=keywords)


def _points(settings: IndexSettings, collection: str) -> dict[str, dict[str, Any]]:
    """Point id -> payload of every point in the collection (the client is closed again: local mode locks)."""
    client = vectors.make_client(settings.qdrant_url)
    try:
        found: dict[str, dict[str, Any]] = {}
        offset = None
        while True:
            records, offset = client.scroll(collection, limit=500, offset=offset, with_payload=True)
            found.update((str(r.id), dict(r.payload or {})) for r in records)
            if offset is None:
                return found
    finally:
        client.close()


class _Spy:
    """Counts the server searches the reader makes (so a fallback to local postings cannot pass for them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = keyword_points.search

        def spy(*args: Any, **kwargs: Any) -> list[tuple[str, float]]:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(keyword_points, "search", spy)


def _ranked(reader: IndexReader, query: str) -> list[tuple[str, float]]:
    return [(c.id, s) for c, s in reader.bm25_search(query, 10)]


def _reference(repo: Path, query: str, avgdl: float | None = None) -> list[tuple[str, float]]:
    """The local BM25 top 10, optionally scored with another mean chunk length (a copy's upload-time one)."""
    with IndexReader.open(repo, IndexSettings(embeddings=False)) as reader:
        conn = reader._conn
        conn.execute("BEGIN")
        try:
            return Bm25Searcher(conn, avgdl).top(conn, lookup_terms(conn, code_tokens(query)), 10)
        finally:
            conn.execute("COMMIT")


def _assert_same(remote: list[tuple[str, float]], local: list[tuple[str, float]], query: str) -> None:
    assert [cid for cid, _ in remote] == [cid for cid, _ in local], query
    for (_, a), (_, b) in zip(remote, local, strict=True):
        assert a == pytest.approx(b, rel=1e-4), query


def _check_collection(repo: Path, settings: IndexSettings) -> dict[str, Any]:
    """One point per chunk, payload as the vector store's; returns the keyword state."""
    with IndexReader.open(repo, settings) as reader:
        state = reader.meta("keyword_state")
        chunks = {c.id: c for c in reader.chunks()}
    assert state["collection"] == keyword_points.keyword_collection(repo)
    if settings.qdrant_url.startswith(EDGE):  # the engine's own shard holds them, not a Python stand-in
        assert (Path(settings.qdrant_url[len(EDGE):]) / state["collection"] / "segments").is_dir()
    points = _points(settings, state["collection"])
    assert set(points) == {point_id(cid) for cid in chunks}
    assert state["points"] == len(chunks)
    for cid, chunk in chunks.items():
        assert points[point_id(cid)]["chunk_id"] == cid and points[point_id(cid)]["path"] == chunk.path
    return state


def _compare_all(repo: Path, settings: IndexSettings, spy: _Spy, avgdl: float | None = None) -> int:
    """Every query: the server's top 10 equals the local one (scored with ``avgdl``); returns the hits seen."""
    hits = 0
    before = spy.calls
    with IndexReader.open(repo, settings) as reader:
        for query in QUERIES:
            remote = _ranked(reader, query)
            _assert_same(remote, _reference(repo, query, avgdl), query)
            hits += len(remote)
    assert spy.calls - before == len(QUERIES)  # the server answered every one
    return hits


def test_keywords_in_qdrant_rank_like_local_bm25(sample_repo_copy: Path, server: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = sample_repo_copy
    settings = _settings(server)
    events: list[str] = []
    stats = index_repository(repo, settings, embeddings=False, progress=lambda e: events.append(e.phase))
    assert stats.keyword_points == stats.chunks_total > 50
    assert "keywords" in events
    state = _check_collection(repo, settings)
    spy = _Spy(monkeypatch)
    assert _compare_all(repo, settings, spy) >= 5 * len(QUERIES)  # real rankings, not empty lists

    # edit one file, add one, delete one: the points follow without a full upload
    reservations = repo / "shopcore" / "inventory" / "reservations.py"
    reservations.write_text(reservations.read_text() + "\n\ndef release_expired_holds(ledger, now):\n"
                            "    \"\"\"Give back every expired hold to the stock ledger.\"\"\"\n"
                            "    return [hold for hold in ledger.holds if hold.expires_at <= now]\n")
    (repo / "shopcore" / "loyalty.py").write_text(
        "def loyalty_points(order_total_cents):\n    \"\"\"One loyalty point per full euro spent.\"\"\"\n"
        "    return order_total_cents // 100\n")
    gone = repo / "shopcore" / "timeutil.py"
    with IndexReader.open(repo, settings) as reader:
        gone_ids = {c.id for c in reader.chunks_for_file("shopcore/timeutil.py")}
    assert gone_ids
    gone.unlink()
    os.utime(reservations, ns=(1, 1))
    stats = index_repository(repo, settings, embeddings=False)
    assert stats.files_indexed == 2 and stats.files_deleted == 1
    after = _check_collection(repo, settings)  # no points of deleted chunks, the new ones present
    points = _points(settings, after["collection"])
    assert not {point_id(cid) for cid in gone_ids} & set(points)
    assert any(p["path"] == "shopcore/loyalty.py" for p in points.values())
    assert after["avgdl"] == state["avgdl"]  # incremental: the points keep the upload-time length
    with IndexReader.open(repo, IndexSettings(embeddings=False)) as reader:
        conn = reader._conn
        live_avgdl = Bm25Searcher(conn).avgdl
    assert live_avgdl != state["avgdl"] and abs(live_avgdl / state["avgdl"] - 1) <= keyword_points.AVGDL_DRIFT
    # the server's scores are BM25 with the upload-time mean length, exactly ...
    _compare_all(repo, settings, spy, avgdl=after["avgdl"])
    # ... and the live local scores within the drift allowed
    with IndexReader.open(repo, settings) as reader:
        for query in ["loyalty points", "release expired holds"]:
            remote = _ranked(reader, query)
            local = dict(_reference(repo, query))
            assert remote and remote[0][0] in local
            for cid, score in remote:
                if cid in local:
                    assert score == pytest.approx(local[cid], rel=keyword_points.AVGDL_DRIFT)
    with IndexReader.open(repo, settings) as reader:
        assert any(c.path == "shopcore/loyalty.py" for c, _ in reader.bm25_search("loyalty points", 3))


def test_avgdl_drift_uploads_everything_again(sample_repo_copy: Path, server: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo = sample_repo_copy
    settings = _settings(server)
    index_repository(repo, settings, embeddings=False)
    first = _check_collection(repo, settings)
    body = "\n".join(f"    total_{i} = compute_invoice_line(order, line_{i}, tax_rate_{i}, discount_{i})"
                     for i in range(60))
    for n in range(25):
        (repo / "shopcore" / f"invoice_{n}.py").write_text(f"def build_invoice_{n}(order):\n{body}\n"
                                                            f"    return order\n")
    stats = index_repository(repo, settings, embeddings=False)
    assert "uploaded in full" in stats.message
    second = _check_collection(repo, settings)
    assert abs(second["avgdl"] / first["avgdl"] - 1) > keyword_points.AVGDL_DRIFT
    with IndexReader.open(repo, IndexSettings(embeddings=False)) as reader:
        assert Bm25Searcher(reader._conn).avgdl == pytest.approx(second["avgdl"])  # the live length again
    _compare_all(repo, settings, _Spy(monkeypatch))  # equal to the live local BM25 once more


def test_stale_or_failing_server_falls_back_to_local(sample_repo_copy: Path, server: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    repo = sample_repo_copy
    settings = _settings(server)
    index_repository(repo, settings, embeddings=False)
    spy = _Spy(monkeypatch)
    # an edit indexed with the setting off: the copy is stale, so readers must not search it
    (repo / "shopcore" / "loyalty.py").write_text("def loyalty_points(total):\n    return total // 100\n")
    index_repository(repo, _settings(server, keywords=False), embeddings=False)
    with IndexReader.open(repo, settings) as reader:
        assert reader.bm25_search("loyalty points", 3)[0][0].path == "shopcore/loyalty.py"
    assert spy.calls == 0
    index_repository(repo, settings, embeddings=False)  # caught up: the server answers again
    state = _check_collection(repo, settings)
    with IndexReader.open(repo, settings) as reader:
        assert reader.bm25_search("loyalty points", 3)[0][0].path == "shopcore/loyalty.py"
    assert spy.calls == 1
    # the server loses the collection: a warning, and the local postings answer
    client = vectors.make_client(settings.qdrant_url)
    client.delete_collection(state["collection"])
    client.close()
    with caplog.at_level(logging.WARNING, logger="indexer.reader"), IndexReader.open(repo, settings) as reader:
        _assert_same(_ranked(reader, "apply discount coupon"), _reference(repo, "apply discount coupon"), "fallback")
    assert spy.calls == 2
    assert "answering from the local BM25 index" in caplog.text


def test_keywords_without_server_is_one_line_error(sample_repo_copy: Path) -> None:
    result = run_cli("index", str(sample_repo_copy), "--no-embeddings", "--set", "index.qdrant_keywords=true")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("repo-assistant: error:")
    assert "index.qdrant_keywords" in lines[0] and "index.qdrant_url" in lines[0]
    assert not (sample_repo_copy / ".repo-assistant" / "index" / "index.sqlite").exists()  # nothing was done


def test_cli_flag_turns_it_on(sample_repo_copy: Path, tmp_path: Path) -> None:
    url = f"local:{tmp_path / 'qdrant'}"
    result = run_cli("index", str(sample_repo_copy), "--no-embeddings", "--qdrant-url", url, "--qdrant-keywords")
    assert result.returncode == 0, result.stderr
    assert "BM25 points in Qdrant" in result.stdout
    settings = IndexSettings(embeddings=False, qdrant_url=url, qdrant_keywords=True)
    _check_collection(sample_repo_copy, settings)


def test_status_says_where_the_copy_is_and_whether_it_is_behind(sample_repo_copy: Path, tmp_path: Path) -> None:
    import json

    url = f"local:{tmp_path / 'qdrant'}"
    env = {"REPO_ASSISTANT_INDEX_QDRANT_URL": url, "REPO_ASSISTANT_INDEX_QDRANT_KEYWORDS": "true",
           "REPO_ASSISTANT_INDEX_EMBEDDINGS": "false"}
    assert run_cli("index", str(sample_repo_copy), env=env).returncode == 0
    status = run_cli("status", "--repo", str(sample_repo_copy), "--json", env=env)
    assert status.returncode == 0, status.stderr
    copy = json.loads(status.stdout)["keywords"]
    assert copy["url"] == url and copy["caught_up"] is True and copy["points"] > 0
    text = run_cli("status", "--repo", str(sample_repo_copy), env=env)
    assert "BM25 points" in text.stdout and "searched there" in text.stdout

    (sample_repo_copy / "shopcore" / "loyalty.py").write_text("def loyalty_points(total):\n    return total // 100\n")
    off = {**env, "REPO_ASSISTANT_INDEX_QDRANT_KEYWORDS": "false"}
    assert run_cli("index", str(sample_repo_copy), env=off).returncode == 0  # BM25 moves on, the copy does not
    behind = run_cli("status", "--repo", str(sample_repo_copy), "--json", env=env)
    assert json.loads(behind.stdout)["keywords"]["caught_up"] is False
    assert "behind the local index" in run_cli("status", "--repo", str(sample_repo_copy), env=env).stdout


def test_a_run_with_no_bm25_change_sends_and_reads_nothing(sample_repo_copy: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(f"local:{tmp_path / 'qdrant'}")
    first = index_repository(sample_repo_copy, settings, embeddings=False)
    touched: list[str] = []
    for name in ("_recreate", "_delete", "_upsert"):
        monkeypatch.setattr(keyword_points.KeywordSync, name,
                            lambda self, *args, name=name: touched.append(name))
    monkeypatch.setattr(keyword_points, "Bm25Searcher", lambda *args, **kwargs: touched.append("lengths"))
    again = index_repository(sample_repo_copy, settings, embeddings=False)
    assert touched == [] and again.keyword_points == first.keyword_points > 0
