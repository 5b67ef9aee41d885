"""The one facade a front end (the TUI) drives: chat, completion, patches, indexing.

A :class:`Session` holds one conversation about one repository: its turns, the
files pinned into the context (:mod:`assistant.pinning`), the open index reader
and the loaded model.  Its methods are thin: each calls the real indexer,
retriever, model and patch code and returns plain data (or yields events while
a model streams), so the UI only renders and never decides.  Every method may
block; a UI calls them from worker threads and passes a ``threading.Event`` to
cancel.  Conversations are saved after every turn under
``<repo>/.repo-assistant/sessions/<id>.json`` and can be resumed.

Heavy modules (torch, transformers, qdrant) are imported inside the methods
that need them, so constructing a session is instant.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat import Citation, ParsedInput, Turn, find_citations, find_named_files, parse_input
from assistant.pinning import CITED, MANUAL, MENTIONED, PATCH, PinChanges, PinSet
from base.config import Settings
from base.errors import (
    GenerationCancelled,
    IndexMissingError,
    PatchError,
    UsageError,
)
from base.paths import ensure_dir, repo_data_dir

if TYPE_CHECKING:
    from assistant.models.base import Backend, ChatMessage, GenerationStats
    from assistant.patch.candidate import Candidate
    from assistant.patch.report import PatchReport
    from indexer.reader import IndexReader
    from indexer.types import IndexStats
    from retrieval.types import BuiltContext, SearchHit

log = logging.getLogger(__name__)

SESSIONS_DIR_NAME = "sessions"
HISTORY_TURNS = 4  # user/assistant messages of earlier turns sent with a new question
HISTORY_CHARS = 2_000  # each trimmed to this many characters
PROMPT_MARGIN_TOKENS = 32
PROSE_SUFFIXES = (".md", ".rst", ".txt", ".adoc")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class ContextReady:
    """The context was assembled: exactly what the model is about to see."""

    context: BuiltContext
    pins: PinChanges


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True)
class AnswerFinished:
    """The answer is complete (or was cancelled); the turn is saved."""

    turn: Turn
    stats: GenerationStats | None
    cancelled: bool
    pins: PinChanges


AnswerEvent = ContextReady | AnswerDelta | AnswerFinished


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
class IndexProgress:
    """One progress update of a re-index, for a progress bar."""

    phase: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return None if self.total <= 0 else min(1.0, self.done / self.total)


@dataclass(frozen=True)
class CompletionSuggestion:
    """An inline completion at ``(line, col)`` (1-based line, 0-based column)."""

    path: str
    line: int
    col: int
    text: str
    mode: str  # fim or prefix-only
    breaks_syntax: bool = False
    stats: GenerationStats | None = None


@dataclass
class SavedChat:
    """A conversation as stored on disk (one JSON file per chat)."""

    id: str
    repo: str
    model: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)
    pins: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        first = next((t.content for t in self.turns if t.role == "user"), "")
        return " ".join(first.split())[:60] or "(empty chat)"


# --------------------------------------------------------------------------- storage


class SessionStore:
    """Saved chats of one repository under ``<repo>/.repo-assistant/sessions/``.

    Files are written atomically (temp file + rename) so a crash never leaves a
    half-written chat; an unreadable file is skipped, never fatal.
    """

    def __init__(self, repo: Path) -> None:
        self.directory = repo_data_dir(repo) / SESSIONS_DIR_NAME

    def save(self, chat: SavedChat) -> Path:
        ensure_dir(self.directory)
        payload = {
            "version": 1,
            "id": chat.id,
            "repo": chat.repo,
            "model": chat.model,
            "created": chat.created,
            "updated": chat.updated,
            "turns": [t.to_json() for t in chat.turns],
            "pins": chat.pins,
        }
        target = self.directory / f"{chat.id}.json"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=1)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    def load(self, chat_id: str) -> SavedChat:
        path = self.directory / f"{chat_id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return SavedChat(
                id=str(data["id"]),
                repo=str(data.get("repo", "")),
                model=str(data.get("model", "")),
                created=float(data.get("created", 0.0)),
                updated=float(data.get("updated", 0.0)),
                turns=[Turn.from_json(t) for t in data.get("turns", [])],
                pins=dict(data.get("pins", {})),
            )
        except FileNotFoundError as exc:
            raise UsageError(f"no saved chat {chat_id!r}", hint="/resume without an id opens the latest") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"saved chat {path} is unreadable ({exc})", hint="delete the file") from exc

    def list(self) -> list[SavedChat]:
        """Saved chats, most recently updated first (unreadable files skipped)."""
        if not self.directory.is_dir():
            return []
        chats: list[SavedChat] = []
        for path in self.directory.glob("*.json"):
            try:
                chats.append(self.load(path.stem))
            except UsageError:
                log.warning("skipping unreadable chat %s", path)
        return sorted(chats, key=lambda c: c.updated, reverse=True)

    def latest(self) -> SavedChat | None:
        chats = self.list()
        return chats[0] if chats else None


def new_chat_id() -> str:
    """Sortable and unique: ``20250101-120000-ab12``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


# --------------------------------------------------------------------------- session


BackendLoader = Callable[..., "Backend"]


class Session:
    """One conversation about one repository, and the engine behind it.

    ``backend`` injects an already loaded model (tests share one; a served
    model could be passed too); otherwise the model named in ``settings.model``
    is loaded on first use (or by :meth:`load_model`).
    """

    def __init__(
        self,
        repo: Path,
        settings: Settings,
        *,
        backend: Backend | None = None,
        store: SessionStore | None = None,
        chat: SavedChat | None = None,
    ) -> None:
        self.repo = repo.resolve()
        self.settings = _shared_core_settings(settings)
        self.store = store or SessionStore(self.repo)
        self._lock = threading.RLock()  # conversation and pins
        self._model_lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._backend = backend
        self._reader: IndexReader | None = None
        self._files: list[str] | None = None
        self._last_stats: GenerationStats | None = None
        chat = chat or SavedChat(new_chat_id(), str(self.repo), self.settings.model.name, time.time(), time.time())
        self.chat = chat
        self.pins = PinSet.from_json(chat.pins) if chat.pins else PinSet()

    # ------------------------------------------------------------ conversation

    @property
    def turns(self) -> list[Turn]:
        return self.chat.turns

    def parse(self, text: str) -> ParsedInput:
        """What the user typed, as a command (raises :class:`UsageError` when it is wrong)."""
        return parse_input(text)

    def new_chat(self) -> None:
        """Start a clean conversation; the current one stays saved."""
        with self._lock:
            self.chat = SavedChat(new_chat_id(), str(self.repo), self.settings.model.name, time.time(), time.time())
            self.pins = PinSet(self.pins.ttl)

    def resume(self, chat_id: str | None = None) -> SavedChat:
        """Load a saved chat (the latest when no id is given) and continue it."""
        chat = self.store.load(chat_id) if chat_id else self.store.latest()
        if chat is None:
            raise UsageError("no saved chat for this repository yet", hint="ask a question to start one")
        with self._lock:
            self.chat = chat
            self.pins = PinSet.from_json(chat.pins) if chat.pins else PinSet()
        return chat

    def saved_chats(self) -> list[SavedChat]:
        return self.store.list()

    def save(self) -> Path | None:
        """Write the conversation to disk (nothing is written for an empty chat)."""
        with self._lock:
            if not self.chat.turns:
                return None
            self.chat.updated = time.time()
            self.chat.model = self.settings.model.name
            self.chat.pins = self.pins.to_json()
            return self.store.save(self.chat)

    def add_note(self, text: str, kind: str = "note") -> Turn:
        """Record something the app reported (not sent to the model)."""
        turn = Turn("note", text, kind)
        with self._lock:
            self.chat.turns.append(turn)
        self.save()
        return turn

    # ------------------------------------------------------------ pins

    def add_pin(self, name: str, source: str = MANUAL) -> str:
        """Pin a file by path (or unique file name); returns the repository path.

        ``/add`` pins are manual (kept until dropped); an ``@`` mention pins with
        ``source="mentioned"``, which expires when the conversation moves on.
        """
        path = self.resolve_file(name)
        with self._lock:
            if source == MANUAL:
                self.pins.add(path, MANUAL)
            else:
                self.pins.use([path], source)
        self.save()
        return path

    def drop_pin(self, name: str) -> str:
        """Unpin a file; raises :class:`UsageError` when it is not pinned."""
        with self._lock:
            pinned = self.pins.paths()
            path = name if name in pinned else _resolve_among(name, pinned)
            if path is None or self.pins.drop(path) is None:
                listed = ", ".join(pinned) or "none"
                raise UsageError(f"{name} is not pinned", hint=f"pinned: {listed}")
        self.save()
        return path

    # ------------------------------------------------------------ files and index

    def files(self, refresh: bool = False) -> list[str]:
        """Repository files (relative POSIX paths) the indexer would consider, sorted."""
        if self._files is None or refresh:
            from indexer.discover import discover

            self._files = sorted(f.path for f in discover(self.repo, self.settings.index).files)
        return self._files

    def resolve_file(self, name: str) -> str:
        """A repository path for ``name`` (exact, a path suffix, or a unique file name)."""
        cleaned = name.strip().lstrip("@").removeprefix("./")
        files = self.files()
        found = cleaned if cleaned in files else _resolve_among(cleaned, files)
        if found is None:
            if (self.repo / cleaned).is_file():
                return cleaned
            raise UsageError(f"no file {name!r} in {self.repo.name}", hint="type @ to pick a file")
        return found

    def read_file(self, path: str) -> str:
        """Text of a repository file (undecodable bytes replaced), for the code view."""
        full = (self.repo / path).resolve()
        if not full.is_relative_to(self.repo):
            raise UsageError(f"{path} is outside the repository")
        try:
            return full.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def reader(self) -> IndexReader:
        """The open index (raises :class:`IndexMissingError` with the fix when there is none)."""
        with self._reader_lock:
            if self._reader is None:
                from indexer.reader import IndexReader

                self._reader = IndexReader.open(self.repo, self.settings.index)
                if self._reader.has_vectors:
                    _embedder_in_process(True)
            return self._reader

    def close_reader(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                with contextlib.suppress(Exception):
                    self._reader.close()
                self._reader = None

    def index_state(self) -> IndexState:
        """Missing, fresh or N files stale (never raises for a missing index)."""
        try:
            reader = self.reader()
        except IndexMissingError as exc:
            return IndexState("missing", detail=exc.one_line())
        stale = list(reader.stale_files())
        files = len(reader.files())
        if stale:
            return IndexState("stale", stale=len(stale), files=files)
        return IndexState("fresh", files=files)

    def run_index(
        self,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        *,
        rebuild: bool = False,
    ) -> IndexStats:
        """(Re-)index the repository incrementally, reporting progress; reopens the reader after."""
        from indexer.pipeline import index_repository

        def forward(event: Any) -> None:
            if progress is not None:
                progress(_progress_from_event(event))

        # An open reader follows the new index generation by itself; the LLM drops to
        # one thread while the embedder works next to it.
        _embedder_in_process(True)
        try:
            stats = index_repository(self.repo, self.settings.index, rebuild=rebuild, progress=forward,
                                     cancel=cancel)
        finally:
            _embedder_in_process(self._reader is not None and self._reader.has_vectors)
        self._files = None
        return stats

    # ------------------------------------------------------------ model

    @property
    def model_loaded(self) -> bool:
        return self._backend is not None

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._last_stats

    def model_label(self) -> tuple[str, str]:
        """``(model name, device)`` for a status bar; device is ``-`` until loaded."""
        if self._backend is not None:
            return self._backend.model_name, self._backend.device
        return self.settings.model.name, "-"

    def load_model(self, progress: Callable[[str], None] | None = None) -> Backend:
        """Load the configured model once (later calls return it)."""
        with self._model_lock:
            if self._backend is None:
                from assistant.models import load_backend

                self._backend = load_backend(self.settings.model, progress=progress)
            return self._backend

    def switch_model(self, name: str, progress: Callable[[str], None] | None = None) -> Backend:
        """Load another model; the current one stays in use if loading fails."""
        settings = replace(self.settings.model, name=name.strip())
        from assistant.models import load_backend

        backend = load_backend(settings, progress=progress)
        with self._model_lock:
            self._backend = backend
            self.settings.model = settings
        return backend

    def count_tokens(self, text: str) -> int:
        return self.load_model().count_tokens(text)

    # ------------------------------------------------------------ retrieval

    def search(self, query: str, k: int = 20) -> list[SearchHit]:
        """Ranked hits for ``query`` with the configured search mode."""
        from retrieval.search import search

        if not query.strip():
            raise UsageError("/search needs a query")
        return search(self.reader(), query, k, mode=self.settings.retrieval.mode)

    def context_budget(self, backend: Backend, reserved: int = 0) -> int:
        """Tokens the retrieved context may use for a chat turn: the same rule as ``repo-assistant ask``.

        The configured budget within the model's window minus the answer, and a
        small cap on a CPU, where the first token waits for the whole prompt.
        """
        from assistant.answer import answer_budget

        return answer_budget(self.settings, backend, reserved)

    def build_context(self, query: str, target_path: str | None = None, line: int | None = None,
                      end_line: int | None = None, *, reserved: int = 0) -> BuiltContext:
        """What the model would see for ``query`` around the active file, pins included.

        Without an active file, the context is centred on the best search hit in
        code for the query: the place the user would most likely have opened.
        """
        from retrieval.context import build_context
        from retrieval.types import BuiltContext, Target

        backend = self.load_model()
        budget = self.context_budget(backend, reserved)
        if target_path is None:
            hits = self.search(query, 10) if query.strip() else []
            if not hits:
                return BuiltContext(items=[], dropped=[], text="", tokens_used=0, budget=budget)
            # Prose (README, docs) often ranks first; the window belongs on code when there is some.
            best = next((h for h in hits if not h.path.endswith(PROSE_SUFFIXES)), hits[0])
            target_path, line, end_line = best.path, best.start_line, None
        target = Target(target_path, line=line, end_line=end_line)
        return build_context(
            self.reader(), target, query, budget, backend.count_tokens,
            repo=self.repo, settings=self.settings.retrieval, pinned=tuple(self.pins.paths()),
        )

    # ------------------------------------------------------------ chat

    def ask(
        self,
        question: str,
        *,
        target_path: str | None = None,
        line: int | None = None,
        end_line: int | None = None,
        cancel: threading.Event | None = None,
        max_new_tokens: int | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer a question about the repository, streaming the Markdown answer.

        Yields :class:`ContextReady` (what the model sees), then
        :class:`AnswerDelta` pieces, then :class:`AnswerFinished` with the saved
        turn.  Files the question names are pinned automatically, and files the
        answer cites stay pinned while the conversation keeps using them.
        """
        from assistant.prompts import ask_messages

        changes = self._begin_turn(question)
        backend = self.load_model()
        history = self._history_messages()
        draft = ask_messages(self.repo.name, question, "")
        reserved = sum(backend.count_tokens(m.content) for m in [*history, *draft]) + PROMPT_MARGIN_TOKENS
        context = self.build_context(question, target_path, line, end_line, reserved=reserved)
        yield ContextReady(context, changes)
        system, user = ask_messages(self.repo.name, question, context.text or "(no context found)")
        yield from self._stream_answer([system, *history, user], question, "ask", context, cancel, max_new_tokens)

    def explain(
        self,
        symbol: str = "",
        *,
        target_path: str | None = None,
        line: int | None = None,
        end_line: int | None = None,
        cancel: threading.Event | None = None,
        max_new_tokens: int | None = None,
    ) -> Iterator[AnswerEvent]:
        """Explain a symbol (found in the index), the selection, or the definition at the cursor."""
        from assistant.prompts import explain_messages
        from indexer.languages import detect_language

        path, start, end, label = self._explain_target(symbol, target_path, line, end_line)
        lines = self.read_file(path).splitlines()
        code = "\n".join(lines[start - 1:end])
        request = f"/explain {label}"
        changes = self._begin_turn(request)
        backend = self.load_model()
        history = self._history_messages()
        language = detect_language(path)
        draft = explain_messages(self.repo.name, label, code, language, "")
        reserved = sum(backend.count_tokens(m.content) for m in [*history, *draft]) + PROMPT_MARGIN_TOKENS
        context = self.build_context(f"{label}\n{code[:2_000]}", path, start, end, reserved=reserved)
        yield ContextReady(context, changes)
        system, user = explain_messages(self.repo.name, label, code, language, context.text or "(none)")
        yield from self._stream_answer([system, *history, user], request, "explain", context, cancel,
                                       max_new_tokens)

    def _explain_target(self, symbol: str, path: str | None, line: int | None,
                        end_line: int | None) -> tuple[str, int, int, str]:
        """``(path, start, end, label)`` of what ``/explain`` should explain."""
        if symbol:
            found_path, start, end = self.find_symbol(symbol)
            return found_path, start, end, symbol
        if path is None or line is None:
            raise UsageError("/explain needs a symbol or an open file", hint="open a file or type /explain NAME")
        if end_line is not None and end_line > line:
            return path, line, end_line, f"{path}:{line}-{end_line}"
        enclosing = [c for c in self._reader_chunks(path) if c.start_line <= line <= c.end_line]
        if enclosing:
            chunk = min(enclosing, key=lambda c: c.end_line - c.start_line)
            label = chunk.symbol or f"{path}:{chunk.start_line}-{chunk.end_line}"
            return path, chunk.start_line, chunk.end_line, label
        return path, max(1, line - 10), line + 10, f"{path}:{max(1, line - 10)}-{line + 10}"

    def find_symbol(self, name: str) -> tuple[str, int, int]:
        """``(path, start_line, end_line)`` of a definition by qualified or simple name."""
        wanted = name.strip().strip("`").removesuffix("()")
        best: tuple[int, str, int, int] | None = None
        for path, file_symbols in sorted(self.reader().symbols().items()):
            for d in file_symbols.definitions:
                if d.qualified_name == wanted:
                    rank = 0
                elif d.name == wanted:
                    rank = 1
                elif d.qualified_name.endswith("." + wanted):
                    rank = 2
                else:
                    continue
                if best is None or rank < best[0]:
                    best = (rank, path, d.start_line, d.end_line)
        if best is None:
            raise UsageError(f"no definition named {name!r}", hint="try /search to find it")
        return best[1], best[2], best[3]

    def _history_messages(self) -> list[ChatMessage]:
        """The last turns of this chat, so follow-up questions keep their meaning."""
        from assistant.models.base import ChatMessage

        turns = [t for t in self.chat.turns if t.role in ("user", "assistant")][-HISTORY_TURNS:]
        return [ChatMessage(t.role, t.content[:HISTORY_CHARS]) for t in turns]

    def _reader_chunks(self, path: str) -> list[Any]:
        reader = self._reader_or_none()
        return list(reader.chunks_for_file(path)) if reader is not None else []

    def _begin_turn(self, text: str) -> PinChanges:
        """Advance the pins one turn and pin the files ``text`` names."""
        with self._lock:
            changes = self.pins.next_turn()
            named = find_named_files(text, self.files())
            changes.added += self.pins.use(named, MENTIONED).added
        return changes

    def _stream_answer(self, messages: list[Any], request: str, kind: str, context: BuiltContext,
                       cancel: threading.Event | None, max_new_tokens: int | None) -> Iterator[AnswerEvent]:
        from assistant.models.base import GenerationParams

        backend = self.load_model()
        params = GenerationParams(
            max_new_tokens=max_new_tokens or self.settings.model.max_new_tokens,
            temperature=self.settings.model.temperature,
            top_p=self.settings.model.top_p,
        )
        pieces: list[str] = []
        cancelled = False
        try:
            for delta in backend.stream_chat(messages, params, cancel):
                pieces.append(delta)
                yield AnswerDelta(delta)
        except GenerationCancelled:
            cancelled = True
        cancelled = cancelled or bool(cancel is not None and cancel.is_set())
        self._last_stats = backend.last_stats
        answer = "".join(pieces)
        citations = _citations_or_sources(answer, self.files(), context)
        with self._lock:
            cited = self.pins.use([c.path for c in citations if c.path in answer], CITED)
            self.chat.turns.append(Turn("user", request, kind))
            turn = Turn("assistant", answer, kind, citations)
            self.chat.turns.append(turn)
        self.save()
        yield AnswerFinished(turn, self._last_stats, cancelled, cited)

    # ------------------------------------------------------------ completion

    def complete(self, path: str, line: int, col: int, cancel: threading.Event | None = None) -> CompletionSuggestion:
        """An inline completion at ``path:line:col`` (line 1-based, column 0-based), with repository context."""
        from assistant.completion import complete

        result = complete(self.repo, path, line, col, settings=self.settings, backend=self.load_model(),
                          reader=self._reader_or_none(), cancel=cancel)
        self._last_stats = result.stats
        return CompletionSuggestion(path, result.line, result.col, result.text, result.mode,
                                    result.breaks_syntax, result.stats)

    def accept_completion(self, suggestion: CompletionSuggestion) -> str:
        """Insert an accepted completion into the file on disk; returns the new text."""
        text = self.read_file(suggestion.path)
        lines = text.splitlines(keepends=True)
        if suggestion.line < 1 or suggestion.line > len(lines) + 1:
            raise UsageError(f"{suggestion.path} changed: line {suggestion.line} no longer exists")
        offset = sum(len(x) for x in lines[: suggestion.line - 1]) + suggestion.col
        updated = text[:offset] + suggestion.text + text[offset:]
        _atomic_write(self.repo / suggestion.path, updated)
        return updated

    def _reader_or_none(self) -> IndexReader | None:
        try:
            return self.reader()
        except IndexMissingError:
            return None

    # ------------------------------------------------------------ patches

    def read_issue(self, argument: str) -> tuple[str, str]:
        """``(title, text)`` of an issue given as text or ``@file`` (globs allowed)."""
        argument = argument.strip()
        if not argument.startswith("@"):
            return argument.splitlines()[0][:60], argument
        pattern = argument[1:]
        matches = sorted(p for p in self.repo.glob(pattern) if p.is_file()) if pattern else []
        if not matches:
            raise UsageError(f"no file matches {pattern!r}", hint="e.g. /patch @ISSUES/001-*.md")
        if len(matches) > 1:
            names = ", ".join(p.relative_to(self.repo).as_posix() for p in matches[:5])
            raise UsageError(f"{pattern!r} matches {len(matches)} files", hint=f"pick one: {names}")
        rel = matches[0].relative_to(self.repo).as_posix()
        return rel, self.read_file(rel)

    def propose_patch(self, issue_text: str, *, title: str = "", cancel: threading.Event | None = None,
                      progress: Callable[[str], None] | None = None, samples: int | None = None) -> PatchReport:
        """Generate, validate and rank candidate patches for an issue; nothing is written.

        Pinned files go to the patch prompt like ``--files`` on the CLI; the files
        the candidates touch are pinned automatically for the questions that follow.
        """
        from assistant.patch.generate import PatchRequest, run_patch

        request = PatchRequest(issue=issue_text, files=list(self.pins.paths()), samples=samples)
        report = run_patch(self.repo, self.settings, self.load_model(), request, progress=progress, cancel=cancel)
        touched = sorted({path for c in report.candidates for path in c.files})
        with self._lock:
            self.pins.next_turn()
            self.pins.use([p for p in touched if p in self.files()], PATCH)
            verdicts = ", ".join(f"#{i} {c.verdict}" for i, c in enumerate(report.candidates, 1)) or "none"
            self.chat.turns.append(Turn("user", f"/patch {title or report.issue_title}", "patch"))
            self.chat.turns.append(Turn("note", f"patch candidates: {verdicts}", "patch"))
        self.save()
        return report

    def apply_patch(self, candidate: Candidate, *, force: bool = False, title: str = "") -> list[str]:
        """Apply a reviewed candidate through the CLI's gate: dirty-file refusal, backup, atomic swap."""
        from assistant.patch.apply import apply_changes

        if not candidate.applicable:
            raise PatchError("this candidate was rejected by validation", hint="pick one that applies")
        backup = apply_changes(self.repo, candidate.changes, force=force, title=title)
        changed = [entry.path for entry in backup.files]
        self.add_note(f"applied patch ({candidate.verdict}) to {', '.join(changed)}; /undo restores them", "patch")
        self._files = None
        return changed

    def dirty_files(self, candidate: Candidate) -> list[str]:
        """Files the candidate edits that have uncommitted changes (the gate asks before touching them)."""
        from assistant.patch.apply import dirty_files

        return list(dirty_files(self.repo, [c.path for c in candidate.changes if c.old is not None]))

    def undo(self) -> list[str]:
        """Restore the files of the last applied patch from its backup (as ``repo-assistant undo``)."""
        from assistant.patch.apply import undo

        backup = undo(self.repo)
        restored = [entry.path for entry in backup.files]
        self.add_note(f"undid patch: restored {', '.join(restored)}", "patch")
        self._files = None
        return restored


# --------------------------------------------------------------------------- helpers


def _shared_core_settings(settings: Settings) -> Settings:
    """A private copy where the embedder gets one CPU thread by default.

    In the app the embedder (query embedding, background indexing) runs next to the
    LLM; on a two-core machine two threads each slow generation four-fold.  The
    model layer drops the LLM to one thread itself while an embedder is active
    (``set_embedder_active``); explicit settings are kept.
    """
    copied = Settings(
        index=replace(settings.index, exclude=list(settings.index.exclude)),
        retrieval=replace(settings.retrieval),
        model=replace(settings.model),
        patch=replace(settings.patch),
        tui=replace(settings.tui),
    )
    if copied.index.threads == 0:
        copied.index.threads = 1
    return copied


def _embedder_in_process(active: bool) -> None:
    from assistant.models.threads import set_embedder_active

    set_embedder_active(active)


def _resolve_among(name: str, paths: Sequence[str]) -> str | None:
    from assistant.chat import resolve_path

    found = resolve_path(name, paths)
    if found is not None:
        return found
    base = [p for p in paths if p.rsplit("/", 1)[-1] == name]
    return base[0] if len(base) == 1 else None


def _citations_or_sources(answer: str, files: Sequence[str], context: Any) -> list[Citation]:
    """Citations the answer makes; when it makes none, the context items it was given.

    Small models often forget to cite; the sources it saw are still worth one
    keystroke to open, and they are labelled as sources in the UI.
    """
    cited = find_citations(answer, files)
    if cited:
        return cited
    seen: list[Citation] = []
    for item in getattr(context, "items", []):
        citation = Citation(item.path, item.start_line, item.end_line)
        if citation not in seen and item.path in files:
            seen.append(citation)
    return seen[:8]


def _progress_from_event(event: Any) -> IndexProgress:
    """Adapt the indexer's progress event into the UI's plain progress record."""
    return IndexProgress(
        phase=str(getattr(event, "phase", "")),
        done=int(getattr(event, "done", 0) or 0),
        total=int(getattr(event, "total", 0) or 0),
        message=str(getattr(event, "message", "") or ""),
    )


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = [
    "AnswerDelta",
    "AnswerEvent",
    "AnswerFinished",
    "CompletionSuggestion",
    "ContextReady",
    "IndexProgress",
    "IndexState",
    "SavedChat",
    "Session",
    "SessionStore",
]
