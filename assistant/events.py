"""What the feature service hands its front ends: plain records and streamed events.

The CLI prints them, the TUI posts them as messages, the MCP server formats them;
none of them decides anything (see :mod:`assistant.session`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.chat import Citation, Turn
from assistant.pinning import PinChanges

if TYPE_CHECKING:
    from assistant.budget import Budget
    from assistant.models.base import ChatMessage, GenerationStats
    from retrieval.types import BuiltContext


@dataclass(frozen=True)
class PreparedPrompt:
    """Exactly what a question or an explanation sends to the model, before it is sent.

    ``repo-assistant context`` prints it, ``ask``/``explain`` and the TUI stream its
    ``messages``; one function builds it for all of them.
    """

    kind: str  # ask or explain
    request: str  # what the user asked, as saved in the conversation
    messages: list[ChatMessage]
    context: BuiltContext
    budget: Budget
    notes: list[str] = field(default_factory=list)
    label: str = ""  # for an explanation: what is explained (a symbol or path:start-end)
    focus: Citation | None = None  # for an explanation: the lines explained (the first source)


@dataclass(frozen=True)
class ContextReady:
    """The context was assembled: exactly what the model is about to see."""

    context: BuiltContext
    pins: PinChanges
    prompt: PreparedPrompt | None = None

    @property
    def notes(self) -> list[str]:
        return list(self.prompt.notes) if self.prompt is not None else []


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True)
class AnswerFinished:
    """The answer is complete (or was cancelled); the turn is saved.

    ``turn.citations`` are the spans the answer cites, or, when it cites none, the
    context items it was given (labelled as sources).
    """

    turn: Turn
    stats: GenerationStats | None
    cancelled: bool
    pins: PinChanges


AnswerEvent = ContextReady | AnswerDelta | AnswerFinished


def early_stop_note(stats: GenerationStats | None) -> str:
    """Why an answer ended before the model did, in the words every front end shows ('' if it did not)."""
    if stats is not None and stats.finish_reason == "repetition":
        return "stopped: the model was repeating itself (one copy kept)"
    return ""


@dataclass(frozen=True)
class IndexState:
    """How usable the index is: ``missing``, ``fresh`` or ``stale`` (with the count)."""

    status: str
    stale: int = 0
    files: int = 0
    detail: str = ""

    @property
    def label(self) -> str:
        if self.status == "fresh":
            return "index fresh"
        if self.status == "stale":
            return f"{self.stale} file{'s' if self.stale != 1 else ''} stale"
        return "no index"


@dataclass(frozen=True)
class CompletionSuggestion:
    """An inline completion at ``(line, col)`` (1-based line, 0-based column), and what the model saw."""

    path: str
    line: int
    col: int
    text: str
    mode: str  # fim or prefix-only
    breaks_syntax: bool = False
    stats: GenerationStats | None = None
    context: BuiltContext | None = None
    sources: tuple[str, ...] = ()
