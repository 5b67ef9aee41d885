"""A bounded, thread-safe least-recently-used mapping: the one cache shape the core keeps in memory.

Memos of token counts, redacted files, rankings and rendered maps all want the same thing:
remember the last N values by key, forget the oldest, and be safe to use from the TUI's
worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``size`` entries; reading or writing an entry makes it the most recent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recent), or ``None``.  Raises ``TypeError`` for an unhashable key."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` (forgetting the oldest entries beyond ``size``) and return it."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def get_or_put(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made and remembered when missing (``make`` runs inside the lock: keep it cheap)."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                value = self._data[key] = make()
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
