"""Reciprocal-rank fusion: combine ranked lists whose scores are not comparable.

BM25 scores are unbounded, cosine similarities live in [-1, 1], and exact
identifier matches have no score at all; only ranks compare.  RRF gives an item
``weight / (k + rank)`` from every list it appears in (Cormack et al., 2009), so
an item ranked well by two lists beats one ranked first by a single list, and a
weight of 0 switches a list off.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def rrf_fuse(
    ranked_lists: Mapping[str, Sequence[T]],
    *,
    weights: Mapping[str, float] | None = None,
    k: int = 60,
    key: Callable[[T], Hashable] = lambda item: item,  # type: ignore[assignment,return-value]
) -> list[tuple[T, float, dict[str, int]]]:
    """Fuse named ranked lists (best first) into ``(item, score, {list name: rank})``, best first.

    The first occurrence of an item (in list order) is the representative kept.  Ties are
    broken by the best single rank, then by first appearance, so the output is deterministic.
    """
    scores: dict[Hashable, float] = {}
    ranks: dict[Hashable, dict[str, int]] = {}
    items: dict[Hashable, T] = {}
    order: dict[Hashable, int] = {}
    for name, ranked in ranked_lists.items():
        weight = 1.0 if weights is None else float(weights.get(name, 1.0))
        for rank, item in enumerate(ranked, start=1):
            ident = key(item)
            if name in ranks.get(ident, {}):
                continue  # a list names each item once; later repeats carry no new evidence
            if ident not in items:
                items[ident] = item
                order[ident] = len(order)
                scores[ident] = 0.0
                ranks[ident] = {}
            ranks[ident][name] = rank
            if weight > 0:
                scores[ident] += weight / (k + rank)
    ordered = sorted(
        items, key=lambda i: (-scores[i], min(ranks[i].values()), order[i])
    )
    return [(items[i], scores[i], ranks[i]) for i in ordered if scores[i] > 0]
