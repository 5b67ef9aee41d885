"""Packed strings behave as the list of strings they stand for, through every edit and a save."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from retrieval.packed_strings import PackedStrings

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)  # any character, newlines too


@given(st.lists(TEXT, max_size=12), st.lists(st.tuples(st.integers(0, 12), TEXT), max_size=6))
def test_inserted_places_each_string_before_its_position(base: list[str], additions: list[tuple[int, str]]) -> None:
    additions = sorted(((min(pos, len(base)), s) for pos, s in additions), key=lambda pair: pair[0])
    expected: list[str] = []
    for i in range(len(base) + 1):
        expected += [s for pos, s in additions if pos == i]
        if i < len(base):
            expected.append(base[i])
    packed = PackedStrings.pack(base).inserted([p for p, _ in additions], [s for _, s in additions])
    assert packed.to_list() == expected == list(packed)
    assert len(packed) == len(expected)


@given(st.lists(TEXT, max_size=12), st.lists(TEXT, max_size=5), st.data())
def test_extended_take_and_saving(base: list[str], more: list[str], data: st.DataObject) -> None:
    packed = PackedStrings.pack(base).extended(more)
    assert packed.to_list() == base + more
    ids = data.draw(st.lists(st.integers(0, max(len(packed) - 1, 0)), max_size=8)) if len(packed) else []
    assert packed.take(np.asarray(ids, dtype=np.int64)).to_list() == [packed[i] for i in ids]
    loaded = PackedStrings.from_arrays(packed.arrays("s"), "s")
    assert loaded.to_list() == base + more


def test_bisect_over_sorted_strings() -> None:
    packed = PackedStrings.pack(["alpha", "beta", "delta"])
    assert [packed.bisect_left(s) for s in ("", "beta", "c", "zeta")] == [0, 1, 2, 3]
    assert packed[-1] == "delta" and packed[0:2] == ["alpha", "beta"]
