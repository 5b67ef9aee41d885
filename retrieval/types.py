"""Plain data passed from retrieval to the rest of the app.

Paths are repository-relative POSIX strings and lines are 1-based and inclusive,
as in :mod:`indexer.types`.  Every object that ends up in a prompt says *why* it
is there (``reason``) and what it cost (``tokens``), and a built context also
lists what was left out for the budget (``dropped``): users of code assistants
keep asking why a snippet is, or is not, in the model's context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.types import Chunk


@dataclass(frozen=True)
class Target:
    """Where the user is: a file, optionally a cursor (``line``/``col``) or a selection up to ``end_line``.

    ``col`` is 0-based (a character offset into the line), ``line``/``end_line`` 1-based.
    """

    path: str
    line: int | None = None
    col: int | None = None
    end_line: int | None = None


@dataclass
class SearchHit:
    """One ranked chunk.  ``sources`` maps each ranked list that found it to its rank there (1-based)."""

    chunk: Chunk
    score: float
    sources: dict[str, int] = field(default_factory=dict)
    matched: tuple[str, ...] = ()  # query identifiers/paths that matched this chunk exactly

    @property
    def path(self) -> str:
        return self.chunk.path

    @property
    def start_line(self) -> int:
        return self.chunk.start_line

    @property
    def end_line(self) -> int:
        return self.chunk.end_line

    @property
    def symbol(self) -> str:
        return self.chunk.symbol


@dataclass
class ContextItem:
    """One piece of a built context (or a candidate dropped for the budget).

    ``kind`` is one of ``active-file``, ``pinned``, ``definition``, ``search-hit``,
    ``repo-map``; ``reason`` is the human sentence (``definition of PriceCalculator``).
    ``tokens`` is what the rendered block costs, headers and line numbers included.
    ``text`` is the rendered block (what the model sees); ``raw`` is the code itself,
    without heading and line numbers (for prompts that place code themselves, such as
    completion's, and for front ends that show it), so nothing parses rendered text back.
    The repo map has ``path == ""`` and no line span.
    """

    path: str
    start_line: int
    end_line: int
    kind: str
    reason: str
    score: float
    tokens: int
    text: str
    raw: str = ""

    @property
    def label(self) -> str:
        """``path:start-end``, as the block's heading shows it and answers cite it ("" for the repo map)."""
        return f"{self.path}:{self.start_line}-{self.end_line}" if self.path else ""


@dataclass
class BuiltContext:
    """What the model will see, and why.

    ``text`` is the whole rendered context (file-path headers, line numbers, the
    active-file window last) and ``tokens_used`` its token count, never above
    ``budget``.  ``prefix``/``suffix`` are the raw active-file text before and after
    the cursor inside the window (for fill-in-the-middle prompts, which place them
    themselves); ``other_text`` is the rendered context without the active-file
    window, for those prompts.  ``count(other_text) + count(prefix) + count(suffix)``
    is within the budget too.
    """

    items: list[ContextItem]
    dropped: list[ContextItem]
    text: str
    tokens_used: int
    budget: int
    prefix: str = ""
    suffix: str = ""
    other_text: str = ""
    counter: str = ""  # which token counter measured it, e.g. "model tokenizer" or "estimate (bytes/3)"
    notes: list[str] = field(default_factory=list)  # e.g. project rules files skipped (binary, too large)


@dataclass
class FileHit:
    """A file that matters for a text, with its best chunks (best first)."""

    path: str
    score: float
    chunks: list[SearchHit] = field(default_factory=list)


@dataclass
class Localization:
    """Files ranked for an issue text (best first), for patch generation."""

    files: list[FileHit] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [f.path for f in self.files]
