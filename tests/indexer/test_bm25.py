"""Our segmented BM25 gives exactly rank-bm25's BM25Okapi scores, also after deletes and merges."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from rank_bm25 import BM25Okapi

from indexer import bm25, store
from indexer.bm25 import Bm25Searcher, Bm25Writer, lookup_terms
from indexer.tokenize import code_tokens

WORDS = ["order", "total", "price", "tax", "vat", "round", "discount", "coupon", "stock", "reserve", "customer", "invoice", "parse", "config", "retry", "backoff", "cache", "session", "token", "user", "item", "line", "amount"]


def _corpus(n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {f"c{i}": [rng.choice(WORDS) for _ in range(rng.randint(1, 30))] for i in range(n)}


def _searcher(conn: sqlite3.Connection) -> Bm25Searcher:
    return Bm25Searcher(conn)


def _assert_same_as_rank_bm25(conn: sqlite3.Connection, live: dict[str, list[str]], query: list[str]) -> None:
    ids = sorted(live)
    reference = BM25Okapi([live[i] for i in ids]).get_scores(query)
    ours = _searcher(conn).all_scores(conn, lookup_terms(conn, query))
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
        writer.delete(gone, [live[i] for i in gone])
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
    once = dict(searcher.top(conn, lookup_terms(conn, ["discount", "tax"]), 3))
    twice = dict(searcher.top(conn, lookup_terms(conn, ["discount", "tax", "tax"]), 3))
    assert twice["b"] > once["b"] and twice["a"] == pytest.approx(once["a"])
    ranked = searcher.top(conn, lookup_terms(conn, ["discount"]), 10)
    assert next(cid for cid, _ in ranked) in ("a", "c") and len(ranked) == 2
    assert all(ranked[i][1] >= ranked[i + 1][1] for i in range(len(ranked) - 1))


def test_tiered_merge_keeps_the_base_and_scores(conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25, "MAX_SEGMENTS", 8)
    live = _corpus(400, seed=5)
    ids = list(live)
    with store.transaction(conn):
        Bm25Writer(conn).add(ids[:300], [live[i] for i in ids[:300]])  # the base
    for start in range(300, 400, 10):  # ten small incremental runs
        with store.transaction(conn):
            Bm25Writer(conn).add(ids[start:start + 10], [live[i] for i in ids[start:start + 10]])
    base_rows = conn.execute("SELECT * FROM bm25_postings WHERE key >> 32 = 1 ORDER BY key").fetchall()
    with store.transaction(conn):
        assert Bm25Writer(conn).maybe_merge()
    segments = conn.execute("SELECT id, n_docs FROM bm25_segments ORDER BY id").fetchall()
    assert [n for _, n in segments] == [300, 10, 10, 80]  # the 8 smallest merged: MAX_SEGMENTS // 2 are left
    assert conn.execute("SELECT * FROM bm25_postings WHERE key >> 32 = 1 ORDER BY key").fetchall() == base_rows
    _assert_same_as_rank_bm25(conn, live, ["order", "vat", "token", "token"])


class _InMemoryBm25:
    """The previous implementation's formula over a dense in-memory corpus: the reference for exact scores."""

    def __init__(self, docs: dict[str, list[str]], vocab: dict[str, int]) -> None:
        import numpy as np

        self.ids = list(docs)
        self.docs = [Counter(docs[i]) for i in self.ids]
        lengths = np.array([len(docs[i]) for i in self.ids], dtype=np.float64)
        self.norm = bm25.K1 * (1 - bm25.B + bm25.B * lengths / (float(lengths.sum()) / len(self.ids)))
        df: Counter[str] = Counter(t for d in self.docs for t in d)
        self.terms = sorted(df, key=vocab.__getitem__)  # the mean idf sums in term-id order
        values = np.array([df[t] for t in self.terms], dtype=np.int64)
        idf = np.log(len(self.ids) - values + 0.5) - np.log(values + 0.5)
        eps = bm25.EPSILON * float(idf.mean())
        self.idf = {t: (eps if v < 0 else float(v)) for t, v in zip(self.terms, idf, strict=True)}

    def scores(self, term_counts: dict[str, int]) -> dict[str, float]:
        import numpy as np

        score = np.zeros(len(self.ids), dtype=np.float64)
        for term, count in term_counts.items():
            if term not in self.idf:
                continue
            weight = self.idf[term] * count
            rows = np.array([i for i, d in enumerate(self.docs) if term in d], dtype=np.int64)
            tf = np.array([self.docs[i][term] for i in rows], dtype=np.float64)
            score[rows] += weight * tf * (bm25.K1 + 1) / (tf + self.norm[rows])
        return {cid: float(s) for cid, s in zip(self.ids, score, strict=True)}


def _real_corpus() -> dict[str, list[str]]:
    """Chunks of this project's own indexer sources, tokenized like the index does: a realistic vocabulary."""
    root = Path(__file__).resolve().parents[2] / "indexer"
    docs: dict[str, list[str]] = {}
    for path in sorted(root.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(lines), 25):
            tokens = code_tokens("\n".join(lines[start:start + 25]))
            if tokens:
                docs[f"{path.stem}:{start}"] = tokens
    return docs


def test_scores_and_top_k_identical_to_the_in_memory_formula_through_edits_and_merges(
        conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25, "MERGE_BATCH_POSTINGS", 500)  # many term-id ranges in one merge
    monkeypatch.setattr(bm25, "MAX_SEGMENTS", 8)
    live = _real_corpus()
    ids = list(live)
    assert len(ids) > 150
    live[ids[0]] = ["blob"] * 300 + ["huge"] * 70_000 + live[ids[0]]  # uint16 and uint32 term frequencies
    with store.transaction(conn):
        writer = Bm25Writer(conn)
        for start in range(0, len(ids), 20):
            writer.add(ids[start:start + 20], [live[i] for i in ids[start:start + 20]])
    with store.transaction(conn):
        gone = ids[5:30] + ids[-3:]
        Bm25Writer(conn).delete(gone, [live[i] for i in gone])
        for cid in gone:
            live.pop(cid)
    queries = [["def", "segment", "segment"], ["blob", "huge", "conn"], ["self"], ["return", "np", "array", "k1"],
               ["commit", "transaction", "rollback", "nothing_matches"]]

    def check() -> None:
        vocab = dict(conn.execute("SELECT term, id FROM bm25_vocab"))
        reference = _InMemoryBm25(live, vocab)
        searcher = _searcher(conn)
        for query in queries:
            term_counts = lookup_terms(conn, query)
            names = {tid: t for t, tid in vocab.items() if tid in term_counts}
            by_term = {names[tid]: n for tid, n in term_counts.items()}  # the same summation order
            expected = reference.scores(by_term)
            assert searcher.all_scores(conn, term_counts) == expected
            ranked = sorted(((s, reference.ids.index(c), c) for c, s in expected.items() if s > 0),
                            key=lambda item: (-item[0], item[1]))[:10]
            top = searcher.top(conn, term_counts, 10)
            assert [s for _, s in top] == [s for s, _, _ in ranked]
            # the same chunks, except that chunks tied with the 10th score may be swapped for each other
            boundary = ranked[-1][0] if len(ranked) == 10 else 0.0
            assert {c for c, s in top if s > boundary} == {c for s, _, c in ranked if s > boundary}
            assert all(expected[c] == s for c, s in top)

    check()
    with store.transaction(conn):
        assert Bm25Writer(conn).maybe_merge()  # more than MAX_SEGMENTS: all but the base
    check()
    with store.transaction(conn):
        assert Bm25Writer(conn).maybe_merge(force=True)
    assert conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0] == 1
    check()
    stored = conn.execute("SELECT tfs, docs FROM bm25_postings WHERE key & 0xFFFFFFFF = (SELECT id FROM bm25_vocab "
                          "WHERE term = 'huge')").fetchone()
    n = len(bm25.decode_docs(stored[1]))
    assert len(stored[0]) == 4 * n and bm25.decode_tfs(stored[0], n)[0] == 70_000


def test_a_query_reads_only_its_terms(conn: sqlite3.Connection) -> None:
    """The searcher's load reads per-document arrays, never posting lists; a query reads its own."""
    live = _corpus(200, seed=9)
    with store.transaction(conn):
        Bm25Writer(conn).add(list(live), list(live.values()))
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    searcher = _searcher(conn)
    assert not any("bm25_postings" in s for s in statements)
    statements.clear()
    searcher.top(conn, lookup_terms(conn, ["order"]), 5)
    reads = [s for s in statements if "bm25_postings" in s]
    assert len(reads) == 1 and "key IN (" in reads[0]
    conn.set_trace_callback(None)


def test_incremental_runs_score_like_a_rebuild(tmp_path: Path) -> None:
    """Edits and deletes through the real pipeline keep df, N and mean idf equal to a fresh index."""
    import os
    import shutil

    from base.config import IndexSettings
    from indexer.pipeline import index_repository
    from indexer.reader import IndexReader

    settings = IndexSettings(embeddings=False)
    source = Path(__file__).resolve().parents[2] / "sample_repo"
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    index_repository(repo, settings)
    files = sorted(p for p in repo.rglob("*.py") if ".repo-assistant" not in p.parts)
    edited, removed = files[0], files[-1]
    edited.write_text(edited.read_text() + "\n\ndef freshly_added_total(order):\n    return order.total\n")
    os.utime(edited, ns=(edited.stat().st_mtime_ns + 2_000_000_000,) * 2)
    removed.unlink()
    index_repository(repo, settings)
    fresh = tmp_path / "fresh"
    shutil.copytree(repo, fresh, ignore=shutil.ignore_patterns(".repo-assistant"))
    index_repository(fresh, settings)
    queries = ["order total", "freshly added total", "def return self", "discount coupon price"]
    with IndexReader.open(repo, settings) as a, IndexReader.open(fresh, settings) as b:
        for query in queries:
            ours = {(c.path, c.start_line): s for c, s in a.bm25_search(query, 50)}
            theirs = {(c.path, c.start_line): s for c, s in b.bm25_search(query, 50)}
            assert ours.keys() == theirs.keys() and ours
            for key, score in ours.items():
                assert score == pytest.approx(theirs[key], rel=1e-12), key


def test_varint_posting_lists_round_trip() -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    lists = [np.sort(rng.choice(2**31, size, replace=False)) for size in (1, 2, 5, 300)]
    lists += [np.arange(1000), np.array([0]), np.array([2**32 - 1]), np.array([127, 128, 16383, 16384, 2**21, 2**28])]
    docs = np.concatenate(lists)
    starts = np.cumsum([0] + [len(x) for x in lists[:-1]])
    blob, offsets = bm25._encode_docs(docs, starts)
    blobs = [blob[lo:hi] for lo, hi in pairwise(offsets)]
    for expected, one in zip(lists, blobs, strict=True):
        assert bm25.decode_docs(one).tolist() == expected.tolist()
    together, counts = bm25._decode_many_docs(blobs)
    assert together.tolist() == docs.tolist() and counts.tolist() == [len(x) for x in lists]
    assert len(blob) < 2 * len(docs)  # dense lists cost about a byte per posting
