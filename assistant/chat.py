"""The conversation's vocabulary: turns, slash commands, mentions and citations.

Pure text handling with no I/O, so the TUI (and any other front end) can parse
what the user typed and what the model answered the same way, and tests can
check it without a model.  ``Session`` (``assistant/session.py``) owns the
conversation; this module only says what a line of input *means*.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from base.errors import UsageError


@dataclass(frozen=True)
class SlashCommand:
    """One slash command as the help and the completion show it."""

    name: str  # without the slash
    usage: str  # the arguments, e.g. "[SYMBOL]"
    help: str
    needs_argument: bool = False


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("explain", "[SYMBOL]", "Explain a symbol, or the code at the cursor / selection."),
    SlashCommand("complete", "", "Suggest code at the code view's cursor (Tab accepts, Esc dismisses)."),
    SlashCommand("patch", "ISSUE-TEXT or @FILE.md", "Propose patches for an issue; review the diff, apply or reject.",
                 needs_argument=True),
    SlashCommand("search", "QUERY", "Search the repository; Enter opens a hit.", needs_argument=True),
    SlashCommand("add", "PATH", "Pin a file into the context.", needs_argument=True),
    SlashCommand("drop", "PATH", "Unpin a file from the context.", needs_argument=True),
    SlashCommand("index", "", "Re-index the repository in the background."),
    SlashCommand("model", "NAME", "Switch the model (preset, Hugging Face id, path or .gguf).", needs_argument=True),
    SlashCommand("undo", "", "Restore the files changed by the last applied patch."),
    SlashCommand("clear", "", "Start a new chat (the current one stays saved)."),
    SlashCommand("resume", "[ID]", "Resume a saved chat (default: the most recent one)."),
    SlashCommand("help", "", "Show keys and commands."),
)
COMMAND_NAMES: tuple[str, ...] = tuple(c.name for c in SLASH_COMMANDS)

# `@path` mentions: an @ at a word start followed by a path-ish token (letters, digits, ./_-*).
_MENTION = re.compile(r"(?:(?<=\s)|^)@([\w./*?-]*)")
# `path:12` or `path:12-34` with a file extension; how answers cite code.
_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]+):(\d+)(?:-(\d+))?")
# A file path named in prose: at least one directory or a known extension.
_PATHISH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z0-9]{1,6})(?![\w/-])")


@dataclass(frozen=True)
class ParsedInput:
    """What one line of input asks for: ``command`` is a slash command name or ``"ask"``."""

    command: str
    argument: str
    mentions: tuple[str, ...] = ()

    @property
    def is_question(self) -> bool:
        return self.command == "ask"


@dataclass(frozen=True)
class Citation:
    """A ``path:start-end`` reference found in an answer (lines 1-based, inclusive)."""

    path: str
    start_line: int
    end_line: int

    @property
    def label(self) -> str:
        if self.end_line != self.start_line:
            return f"{self.path}:{self.start_line}-{self.end_line}"
        return f"{self.path}:{self.start_line}"


@dataclass
class Turn:
    """One entry of the conversation.

    ``role`` is ``user`` or ``assistant`` for what the model sees again on the
    next question, ``note`` for things the app reports (search results, a patch
    verdict, a pin dropped) that are saved with the chat but never sent to the model.
    """

    role: str
    content: str
    kind: str = "ask"  # ask, explain, patch, search, complete, note
    citations: list[Citation] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "kind": self.kind,
            "citations": [[c.path, c.start_line, c.end_line] for c in self.citations],
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Turn:
        citations = [Citation(str(p), int(s), int(e)) for p, s, e in data.get("citations", [])]
        return cls(
            role=str(data["role"]),
            content=str(data["content"]),
            kind=str(data.get("kind", "ask")),
            citations=citations,
            created=float(data.get("created", 0.0)),
        )


def command_spec(name: str) -> SlashCommand | None:
    """The spec of a command by name (without the slash)."""
    return next((c for c in SLASH_COMMANDS if c.name == name), None)


def complete_command(prefix: str) -> list[str]:
    """Slash commands (with the slash) starting with ``prefix`` (which may include the slash)."""
    text = prefix.lstrip("/").lower()
    return [f"/{name}" for name in COMMAND_NAMES if name.startswith(text)]


def parse_input(text: str) -> ParsedInput:
    """Turn what the user typed into a command and its argument.

    A line starting with ``/`` is a slash command (an unambiguous prefix such as
    ``/expl`` is accepted); anything else is a question.  ``@path`` tokens are
    returned as mentions.  Raises :class:`UsageError` for an unknown command or a
    missing argument, with the list of commands as the hint.
    """
    stripped = text.strip()
    if not stripped:
        raise UsageError("nothing to send", hint="type a question, or /help for the commands")
    mentions = tuple(m for m in _MENTION.findall(stripped) if m)
    if not stripped.startswith("/") or stripped.startswith("//"):
        return ParsedInput("ask", stripped, mentions)
    head, _, rest = stripped[1:].partition(" ")
    name = head.lower()
    matches = [n for n in COMMAND_NAMES if n == name] or [n for n in COMMAND_NAMES if n.startswith(name)]
    if len(matches) != 1:
        known = " ".join(f"/{n}" for n in COMMAND_NAMES)
        what = "ambiguous" if matches else "unknown"
        raise UsageError(f"{what} command /{head}", hint=f"commands: {known}")
    spec = command_spec(matches[0])
    assert spec is not None
    argument = rest.strip()
    if spec.needs_argument and not argument:
        raise UsageError(f"/{spec.name} needs {spec.usage}", hint=spec.help)
    return ParsedInput(spec.name, argument, mentions)


def find_citations(text: str, known_files: Iterable[str] | None = None) -> list[Citation]:
    """Every ``path:line[-line]`` in ``text``, in order, without duplicates.

    With ``known_files``, a cited path must be one of them (or a unique path
    suffix of one, e.g. ``calculator.py:12`` for ``shopcore/pricing/calculator.py``),
    so prose like ``ratio 3.5:1`` is not mistaken for a citation.
    """
    known = list(known_files) if known_files is not None else None
    found: list[Citation] = []
    for match in _CITATION.finditer(text):
        path = match.group(1)
        if known is not None:
            resolved = resolve_path(path, known)
            if resolved is None:
                continue
            path = resolved
        start = int(match.group(2))
        end = int(match.group(3) or start)
        if end < start:
            start, end = end, start
        citation = Citation(path, start, end)
        if citation not in found:
            found.append(citation)
    return found


def resolve_path(name: str, known_files: Sequence[str]) -> str | None:
    """``name`` as one of ``known_files``: exact, else the only file ending with ``/name``."""
    cleaned = name.strip().strip("`'\"").removeprefix("./")
    if cleaned in known_files:
        return cleaned
    suffix = "/" + cleaned
    candidates = [f for f in known_files if f.endswith(suffix)]
    return candidates[0] if len(candidates) == 1 else None


def find_named_files(text: str, known_files: Sequence[str]) -> list[str]:
    """Repository files that ``text`` names (``shopcore/models/order.py``, ``order.py``, ``@order.py``)."""
    found: list[str] = []
    for match in _PATHISH.finditer(text.replace("@", " ")):
        resolved = resolve_path(match.group(1), known_files)
        if resolved is not None and resolved not in found:
            found.append(resolved)
    return found


def fuzzy_score(query: str, candidate: str) -> float:
    """How well ``query`` matches ``candidate`` as an ordered subsequence (0: no match).

    Consecutive characters and matches at word starts (after ``/``, ``_``, ``.``)
    score higher, and shorter candidates win ties: the ranking people expect from
    fzf-style pickers, with no dependency.
    """
    if not query:
        return 1.0 / (1 + len(candidate))
    q = query.lower()
    c = candidate.lower()
    score = 0.0
    position = 0
    previous = -2
    for char in q:
        found = c.find(char, position)
        if found < 0:
            return 0.0
        bonus = 1.0
        if found == previous + 1:
            bonus += 2.0
        if found == 0 or c[found - 1] in "/_.-":
            bonus += 1.5
        score += bonus
        previous = found
        position = found + 1
    basename_start = c.rfind("/") + 1
    if q in c[basename_start:]:
        score += 3.0
    return score + 1.0 / (1 + len(candidate))


def fuzzy_filter(query: str, candidates: Iterable[str], limit: int = 50) -> list[str]:
    """The best ``limit`` candidates for ``query``, best first."""
    scored = [(fuzzy_score(query, c), c) for c in candidates]
    ranked = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
    return [c for _score, c in ranked[:limit]]
