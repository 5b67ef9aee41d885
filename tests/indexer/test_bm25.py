"""Our segmented BM25 gives exactly rank-bm25's BM25Okapi scores, also after deletes and merges."""

from __future__ import annotations

import random
import sqlite3

import pytest
from rank_bm25 import BM25Okapi

from indexer import store
from indexer.bm25 import Bm25Searcher, Bm25Writer, load_segments, lookup_terms
from indexer.tokenize import code_tokens

WORDS = ["order", "total", "price", "tax", "vat", "round", "discount", "coupon", "stock", "reserve", "customer", "invoice", "parse", "config", "retry", "backoff", "cache", "session", "token", "user", "item", "line", "amount"]


def _corpus(n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {f"c{i}": [rng.choice(WORDS) for _ in range(rng.randint(1, 30))] for i in range(n)}


def _searcher(conn: sqlite3.Connection) -> Bm25Searcher:
    segments, dead = load_segments(conn)
    return Bm25Searcher(segments, dead)


def _assert_same_as_rank_bm25(conn: sqlite3.Connection, live: dict[str, list[str]], query: list[str]) -> None:
    ids = sorted(live)
    reference = BM25Okapi([live[i] for i in ids]).get_scores(query)
    ours = _searcher(conn).all_scores(lookup_terms(conn, query))
    assert set(ours) == set(ids)
    for cid, expected in zip(ids, reference, strict=True):
        assert ours[cid] == pytest.approx(expected, rel=1e-9, abs=1e-9), cid


@pytest.fixture
def conn(tmp_path) -> sqlite3.Connection:
    connection = store.connect(tmp_path / "t.sqlite")
    store.create_schema(connection)
    return connection


def test_scores_equal_rank_bm25_through_adds_deletes_and_merge(conn: sqlite3.Connection) -> None:
    live = _corpus(300, seed=1)
    ids = list(live)
    with store.transaction(conn):
        writer = Bm25Writer(conn)
        writer.add(ids[:200], [live[i] for i in ids[:200]])
        writer.add(ids[200:], [live[i] for i in ids[200:]])
    queries = [["order", "total"], ["vat", "vat", "round"], ["token"], ["nothing_matches"], WORDS[:6]]
    for q in queries:
        _assert_same_as_rank_bm25(conn, live, q)
    # delete a file's worth of documents and replace a few: tombstones + a new segment
    with store.transaction(conn):
        writer = Bm25Writer(conn)
        gone = ids[10:60]
        writer.delete(gone)
        for cid in gone:
            live.pop(cid)
        extra = _corpus(20, seed=2)
        extra = {f"new{k}": v for k, v in extra.items()}
        writer.add(list(extra), list(extra.values()))
        live.update(extra)
    for q in queries:
        _assert_same_as_rank_bm25(conn, live, q)
    with store.transaction(conn):
        assert Bm25Writer(conn).maybe_merge(force=True)
    assert conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM bm25_dead").fetchone()[0] == 0
    for q in queries:
        _assert_same_as_rank_bm25(conn, live, q)


def test_repeated_query_tokens_weigh_more_and_top_is_sorted(conn: sqlite3.Connection) -> None:
    docs = {"a": code_tokens("def apply_discount(order): return order.total"),
            "b": code_tokens("def compute_tax(amount): return round(amount * rate)"),
            "c": code_tokens("class Coupon: discount = 10")}
    with store.transaction(conn):
        Bm25Writer(conn).add(list(docs), list(docs.values()))
    searcher = _searcher(conn)
    once = dict(searcher.top(lookup_terms(conn, ["discount", "tax"]), 3))
    twice = dict(searcher.top(lookup_terms(conn, ["discount", "tax", "tax"]), 3))
    assert twice["b"] > once["b"] and twice["a"] == pytest.approx(once["a"])
    ranked = searcher.top(lookup_terms(conn, ["discount"]), 10)
    assert next(cid for cid, _ in ranked) in ("a", "c") and len(ranked) == 2
    assert all(ranked[i][1] >= ranked[i + 1][1] for i in range(len(ranked) - 1))


def test_tiered_merge_keeps_the_base_and_scores(conn: sqlite3.Connection) -> None:
    live = _corpus(400, seed=5)
    ids = list(live)
    with store.transaction(conn):
        Bm25Writer(conn).add(ids[:300], [live[i] for i in ids[:300]])  # the base
    for start in range(300, 400, 10):  # ten small incremental runs
        with store.transaction(conn):
            Bm25Writer(conn).add(ids[start:start + 10], [live[i] for i in ids[start:start + 10]])
    base_blob = conn.execute("SELECT arrays FROM bm25_segments WHERE id = 1").fetchone()[0]
    with store.transaction(conn):
        assert Bm25Writer(conn).maybe_merge()
    segments = conn.execute("SELECT id, n_docs FROM bm25_segments ORDER BY id").fetchall()
    assert [n for _, n in segments] == [300, 100]
    assert conn.execute("SELECT arrays FROM bm25_segments WHERE id = 1").fetchone()[0] == base_blob
    _assert_same_as_rank_bm25(conn, live, ["order", "vat", "token", "token"])
