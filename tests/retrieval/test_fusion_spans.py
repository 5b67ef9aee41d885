"""Reciprocal-rank fusion and span arithmetic (merge, subtract)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from retrieval.fusion import rrf_fuse
from retrieval.spans import covered_lines, merge_spans, overlaps, subtract_spans


def test_rrf_prefers_items_found_by_both_lists() -> None:
    fused = rrf_fuse({"bm25": ["a", "b", "c"], "vector": ["c", "d", "a"]}, k=60)
    order = [item for item, _, _ in fused]
    assert order[:2] == ["a", "c"]
    assert fused[0][2] == {"bm25": 1, "vector": 3}


def test_rrf_weights_and_zero_weight() -> None:
    lists = {"bm25": ["a", "b"], "vector": ["b", "a"]}
    assert rrf_fuse(lists, weights={"bm25": 1.0, "vector": 2.0})[0][0] == "b"
    only_bm25 = rrf_fuse(lists, weights={"bm25": 1.0, "vector": 0.0})
    assert [i for i, _, _ in only_bm25] == ["a", "b"]
    assert rrf_fuse({"x": ["a"]}, weights={"x": 0.0}) == []


def test_rrf_key_dedupes_and_repeats_in_one_list_count_once() -> None:
    fused = rrf_fuse({"x": [("a", 1), ("a", 2), ("b", 3)]}, key=lambda t: t[0])
    assert [item for item, _, _ in fused] == [("a", 1), ("b", 3)]


def test_merge_spans_joins_overlapping_and_touching() -> None:
    assert merge_spans([(5, 8), (1, 3), (4, 4), (10, 12)]) == [(1, 8), (10, 12)]
    assert merge_spans([(1, 3), (5, 6)], gap=1) == [(1, 6)]
    assert merge_spans([(3, 1)]) == []


def test_subtract_spans() -> None:
    assert subtract_spans((1, 10), [(3, 4), (8, 20)]) == [(1, 2), (5, 7)]
    assert subtract_spans((5, 6), [(1, 10)]) == []
    assert subtract_spans((5, 6), []) == [(5, 6)]


spans = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])), max_size=8)


@given(st.tuples(st.integers(1, 60), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1])), spans)
def test_subtract_partitions_the_span(span: tuple[int, int], covered: list[tuple[int, int]]) -> None:
    rest = subtract_spans(span, covered)
    lines = set(range(span[0], span[1] + 1))
    shown = {n for s, e in rest for n in range(s, e + 1)}
    hidden = {n for s, e in covered for n in range(s, e + 1)}
    assert shown == lines - hidden
    assert all(not overlaps(a, b) for a in rest for b in covered)


@given(spans)
def test_merge_preserves_lines(items: list[tuple[int, int]]) -> None:
    merged = merge_spans(items)
    assert covered_lines(merged) == len({n for s, e in items for n in range(s, e + 1)})
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(merged))


def test_aggregate_files_rewards_several_relevant_chunks() -> None:
    from indexer.types import Chunk
    from retrieval.search import aggregate_files
    from retrieval.types import SearchHit

    def hit(path: str, line: int, score: float) -> SearchHit:
        return SearchHit(Chunk(f"{path}:{line}", path, "python", "function", "f", line, line + 5, 0, 1, "x"), score)

    hits = [hit("a.py", 1, 1.0), hit("b.py", 1, 0.9), hit("b.py", 10, 0.8), hit("c.py", 1, 0.2),
            *[hit("d.py", n, 0.1) for n in range(0, 100, 10)]]
    files = aggregate_files(hits)
    assert [f.path for f in files][:2] == ["b.py", "a.py"]  # 0.9 + 0.4 beats 1.0
    assert files[-1].path in ("c.py", "d.py") and next(f for f in files if f.path == "d.py").score < 0.2
    assert len(next(f for f in files if f.path == "d.py").chunks) == 3
