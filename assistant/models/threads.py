"""How many CPU threads generation gets.

A 135M model decodes as fast on one thread as on two (it is bound by memory
bandwidth), but when the embedder and the LLM both take two threads on a
two-core machine, generation drops about 4x.  So ``model.threads = 0`` means:
one thread while an embedder is active in this process, else ``min(2, cores)``.
The TUI (or anything else that loads the embedder next to the LLM) calls
:func:`set_embedder_active` so the next generation picks the right count.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_embedder_active = False


def set_embedder_active(active: bool) -> None:
    """Tell the model layer that an embedder is (or no longer is) running in this process."""
    global _embedder_active
    with _lock:
        _embedder_active = active


def embedder_active() -> bool:
    return _embedder_active


def resolve_threads(setting: int) -> int:
    """The thread count for ``model.threads`` (0: automatic, see the module docstring)."""
    if setting > 0:
        return setting
    if _embedder_active:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def apply_threads(setting: int) -> int:
    """Set torch's intra-op thread count from ``model.threads``; returns the count used."""
    import torch

    count = resolve_threads(setting)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
