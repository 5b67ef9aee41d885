"""Who gets the CPU cores when the LLM and the embedder run in one process.

A 135M model decodes as fast on one thread as on two (it is bound by memory
bandwidth), but when the embedder and the LLM both take two threads on a two-core
machine, generation drops about four-fold.  A front end that keeps both in one
process (the TUI: background indexing and query embedding next to generation)
builds its feature service with ``CpuPolicy(shared=True)``; a one-shot command
(``repo-assistant ask``) runs one thing at a time and keeps the defaults.
Explicit settings (``model.threads``, ``index.threads`` above 0) always win.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class CpuPolicy:
    """The thread counts for generation and embedding in this process."""

    shared: bool = False  # the LLM and the embedder live in this process together
    cores: int = field(default_factory=available_cores)
    _embedding: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set_embedding(self, active: bool) -> None:
        """Say that an embedder is (or no longer is) working in this process."""
        with self._lock:
            self._embedding = active

    @property
    def embedding(self) -> bool:
        return self._embedding

    def llm_threads(self, setting: int) -> int:
        """Generation threads for ``model.threads`` (0: one while an embedder works, else up to two)."""
        if setting > 0:
            return setting
        if self.shared and self._embedding:
            return 1
        return max(1, min(2, self.cores))

    def embedder_threads(self, setting: int) -> int:
        """Embedding threads for ``index.threads`` (0: one when sharing with an LLM, else the indexer's own choice)."""
        if setting > 0:
            return setting
        return 1 if self.shared else 0
