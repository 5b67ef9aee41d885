"""base.lru: the bounded LRU every in-memory cache of the core uses."""

from __future__ import annotations

import pytest

from base.lru import Lru


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_get_or_put_makes_a_value_once() -> None:
    cache: Lru[str, list[int]] = Lru(4)
    made: list[int] = []
    first = cache.get_or_put("k", lambda: made.append(1) or [1])
    assert cache.get_or_put("k", lambda: made.append(2) or [2]) is first and made == [1]
    with pytest.raises(TypeError):
        cache.get_or_put([], list)  # type: ignore[arg-type]
    cache.clear()
    assert len(cache) == 0
