"""Progress reporting from the indexer to whoever drives it (CLI bars, TUI status line).

The pipeline never prints: it calls ``progress(ProgressEvent(...))``.  Events are
small immutable values, safe to post from a worker thread to a UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PHASES: tuple[str, ...] = ("discovering", "chunking", "bm25", "embedding", "done")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an indexing run.

    ``phase`` is one of :data:`PHASES`; ``done``/``total`` count files (discovering,
    chunking) or chunks (bm25, embedding); ``total`` is 0 when unknown.  ``message``
    is a short human-readable note, e.g. "BM25 ready; embeddings continue".
    """

    phase: str
    done: int = 0
    total: int = 0
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: ProgressCallback | None, phase: str, done: int = 0, total: int = 0, message: str = "") -> None:
    """Send one event if anyone listens."""
    if callback is not None:
        callback(ProgressEvent(phase=phase, done=done, total=total, message=message))
