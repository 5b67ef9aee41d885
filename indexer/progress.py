"""Progress reporting from the indexer to whoever drives it (CLI bars, TUI status line).

The pipeline never prints: it calls ``progress(ProgressEvent(...))``.  Events are
small immutable values, safe to post from a worker thread to a UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PHASES: tuple[str, ...] = ("discovering", "chunking", "bm25", "keywords", "model", "embedding", "done")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an indexing run.

    ``phase`` is one of :data:`PHASES`; ``done``/``total`` count files (discovering,
    chunking), chunks (bm25, keywords: BM25 copied to a
    Qdrant server, embedding) or steps (model: the one-time ONNX export of
    the embedding model, whose number of steps is not known in advance); ``total``
    is 0 when unknown.  ``message``
    is a short human-readable note, e.g. "BM25 ready; embeddings continue".
    """

    phase: str
    done: int = 0
    total: int = 0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """How far this phase is (0..1), for a progress bar; ``None`` when the total is unknown."""
        return None if self.total <= 0 else min(1.0, self.done / self.total)


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: ProgressCallback | None, phase: str, done: int = 0, total: int = 0, message: str = "") -> None:
    """Send one event if anyone listens."""
    if callback is not None:
        callback(ProgressEvent(phase=phase, done=done, total=total, message=message))
