"""Messages that workers post to the app: small dataclasses, one per thing that happened.

Workers run the blocking core calls in threads and never touch widgets; they
report through these messages, and the app's ``@on`` handlers own every change
to the screen.  Tests assert on this flow with ``run_test(message_hook=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from assistant.chat import Turn
from assistant.models.base import GenerationStats
from assistant.pinning import PinChanges
from assistant.session import CompletionSuggestion, IndexProgress, IndexState


@dataclass
class QuestionSubmitted(Message):
    """The user sent a question or a slash command that generates text."""

    text: str
    command: str


@dataclass
class ContextBuilt(Message):
    """The context for the current request is assembled (``context`` is a ``BuiltContext``)."""

    context: Any
    pins: PinChanges


@dataclass
class AnswerChunk(Message):
    """A piece of the streamed answer."""

    text: str


@dataclass
class AnswerDone(Message):
    """The answer finished (``cancelled`` when the user stopped it)."""

    turn: Turn
    stats: GenerationStats | None
    cancelled: bool
    pins: PinChanges


@dataclass
class WorkFailed(Message):
    """A worker stopped on a user-facing error; shown as a notification with the fix."""

    group: str
    title: str
    message: str
    severity: str = "error"


@dataclass
class ModelLoading(Message):
    """Loading (or converting) the model; ``text`` says which step."""

    text: str


@dataclass
class ModelReady(Message):
    """A model is loaded and answers from now on."""

    name: str
    device: str


@dataclass
class IndexStateChanged(Message):
    """The index is missing, fresh or has stale files."""

    state: IndexState
    first_check: bool = False


@dataclass
class IndexProgressed(Message):
    """Progress of a background re-index."""

    progress: IndexProgress


@dataclass
class IndexFinished(Message):
    """A re-index completed (``stats`` is the indexer's ``IndexStats``)."""

    stats: Any
    cancelled: bool = False


@dataclass
class FilesListed(Message):
    """The repository's files, for the tree and the file picker."""

    files: list[str]


@dataclass
class SearchFinished(Message):
    """Ranked hits for ``/search`` (``hits`` are ``retrieval.types.SearchHit``)."""

    query: str
    hits: list[Any]


@dataclass
class CompletionReady(Message):
    """An inline completion to show at the code view's cursor."""

    suggestion: CompletionSuggestion


@dataclass
class PatchProgress(Message):
    """A step of patch generation (localizing, sampling, validating...)."""

    text: str


@dataclass
class PatchReady(Message):
    """Candidates with verdicts for an issue, ready for review."""

    title: str
    report: Any


@dataclass
class PatchApplied(Message):
    """A reviewed patch was applied; ``files`` changed on disk."""

    files: list[str] = field(default_factory=list)


@dataclass
class PatchUndone(Message):
    """The last patch was undone; ``files`` were restored."""

    files: list[str] = field(default_factory=list)


@dataclass
class PatchNeedsForce(Message):
    """The apply gate would refuse unless forced (syntax errors, uncommitted changes): ask first."""

    candidate: Any
    reason: str
