"""The feature service: the one core every front end drives (CLI, TUI, MCP server).

A :class:`Session` holds what the features of one repository need — the settings,
the open index reader, the loaded model, the CPU policy, the conversation and the
files pinned into it (:mod:`assistant.pinning`) — and owns every feature: ask,
explain, complete, search, localize, context, patch (propose, apply, undo) and
indexing.  A front end parses its input, calls a method here and renders what
comes back (plain records, or events while a model streams, :mod:`assistant.events`);
it never builds a prompt or a context itself.  So ``repo-assistant ask`` and the
same question in the TUI send the byte-identical prompt, and
``repo-assistant context`` shows exactly what ``ask`` sends: one code path.

A one-shot command builds a session with ``persist=False`` (nothing is saved, no
history); the TUI keeps one for its whole life, and conversations are saved after
every turn under ``<repo>/.repo-assistant/sessions/<id>.json`` (:mod:`assistant.chat_store`).
Every method may block; a UI calls them from worker threads and passes a
``threading.Event`` to cancel.  Heavy modules (torch, transformers, qdrant) are
imported inside the methods that need them, so constructing a session is instant.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat import Citation, ParsedInput, Turn, find_citations, find_named_files, parse_input
from assistant.chat_store import SavedChat, SessionStore, new_chat_id
from assistant.events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFinished,
    CompletionSuggestion,
    ContextReady,
    IndexState,
    PreparedPrompt,
    early_stop_note,
)
from assistant.models.repetition import LoopGuard
from assistant.pinning import CITED, MANUAL, MENTIONED, PATCH, PinChanges, PinSet
from base.atomic import write_atomic
from base.config import IndexSettings, Settings
from base.cpu import CpuPolicy
from base.errors import GenerationCancelled, IndexMissingError, PatchError, UsageError
from indexer.progress import (
    ProgressEvent as IndexProgress,  # the indexer's own progress record, passed through
)

if TYPE_CHECKING:
    from assistant.budget import Budget
    from assistant.freshness import IndexWatcher
    from assistant.models.base import Backend, ChatMessage, GenerationStats
    from assistant.patch.apply import Backup
    from assistant.patch.candidate import Candidate
    from assistant.patch.generate import PatchRequest
    from assistant.patch.report import PatchReport
    from indexer.reader import IndexReader
    from indexer.types import IndexStats
    from retrieval.types import BuiltContext, Localization, SearchHit, Target

log = logging.getLogger(__name__)

HISTORY_TURNS = 4  # user/assistant messages of earlier turns sent with a new question
HISTORY_CHARS = 2_000  # each trimmed to this many characters
PROSE_SUFFIXES = (".md", ".rst", ".txt", ".adoc")
NEARBY_LINES = 10  # an explanation at a cursor outside any definition covers this many lines each side
MAX_SOURCES = 8  # context items offered as sources when the answer cites nothing


@dataclass(frozen=True)
class ModelFacts:
    """What budgeting needs to know about the model, with or without its weights loaded."""

    count: Callable[[str], int]
    counter_name: str
    window: int
    device: str


@dataclass(frozen=True)
class ExplainTarget:
    """The span an explanation is about, and how the user named it."""

    path: str
    start: int
    end: int
    label: str


BackendLoader = Callable[..., "Backend"]


class Session:
    """The feature service of one repository (and, in the TUI, one conversation about it).

    ``backend`` injects an already loaded model (tests share one; a served model could
    be passed too); otherwise the model named in ``settings.model`` is loaded on first
    use (or by :meth:`load_model`).  ``cpu`` says how generation and embedding share
    the cores (:class:`base.cpu.CpuPolicy`); ``persist=False`` saves nothing.
    ``settings`` is used as given, whole.
    """

    def __init__(
        self,
        repo: Path,
        settings: Settings,
        *,
        backend: Backend | None = None,
        store: SessionStore | None = None,
        chat: SavedChat | None = None,
        persist: bool = True,
        cpu: CpuPolicy | None = None,
    ) -> None:
        self.repo = repo.resolve()
        self.settings = settings
        self.cpu = cpu or CpuPolicy()
        self.persist = persist
        self.store = store or SessionStore(self.repo)
        self._lock = threading.RLock()  # conversation and pins
        self._model_lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._backend = backend
        self._reader: IndexReader | None = None
        self._watcher: IndexWatcher | None = None
        self._warm_lock = threading.Lock()
        self._warming = False  # a background repo-map warm-up is running
        self._warm_again = False  # ... and the index changed again since it started
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
            if not self.persist or not self.chat.turns:
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

                self._reader = IndexReader.open(self.repo, self._index_settings())
                if self._reader.has_vectors:
                    self.cpu.set_embedding(True)  # the query embedder now shares the cores
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
        files = reader.file_count()
        if stale:
            return IndexState("stale", stale=len(stale), files=files)
        return IndexState("fresh", files=files)

    def run_index(
        self,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        *,
        rebuild: bool = False,
        wait: bool = False,
    ) -> IndexStats:
        """(Re-)index the repository incrementally, reporting progress; reopens the reader after.

        ``wait`` waits for another indexing run to finish instead of refusing.
        """
        from indexer.pipeline import index_repository

        # An open reader follows the new index generation by itself; generation drops to
        # one thread while the embedder works next to it (when the policy shares the cores).
        self.cpu.set_embedding(True)
        # The session's own watcher holds the index lock for moments at a time: wait for it.
        wait = wait or self._watcher is not None
        try:
            stats = index_repository(self.repo, self._index_settings(), rebuild=rebuild, progress=progress,
                                     cancel=cancel, wait=wait)
        finally:
            self.cpu.set_embedding(self._reader is not None and self._reader.has_vectors)
        self._files = None
        return stats

    def start_watching(self, on_event: Callable[[Any], None] | None = None, *, catch_up: bool = False,
                       warm_map: bool = False) -> None:
        """Keep the index fresh while a front end runs: changed files are re-indexed in the background.

        BM25 first, vectors after (:class:`assistant.freshness.IndexWatcher`); a query never
        waits for it.  ``catch_up`` first refreshes what changed while nothing watched (the
        MCP server); the TUI leaves that to its first index check, which offers to index.
        ``warm_map`` also prepares the repo map now and after every refresh, in a thread of its
        own (:meth:`warm_repo_map_in_background`; the TUI runs it as one of its workers instead).
        """
        from assistant.freshness import IndexWatcher

        def follow(event: Any) -> None:
            if on_event is not None:
                on_event(event)
            if event.phase == "bm25":
                self.warm_repo_map_in_background()

        with self._reader_lock:
            if self._watcher is None:
                self._watcher = IndexWatcher(self.repo, self._index_settings(),
                                             on_event=follow if warm_map else on_event)
                self._watcher.start(catch_up=catch_up)
        if warm_map:
            self.warm_repo_map_in_background()

    def warm_repo_map_in_background(self) -> None:
        """:meth:`warm_repo_map` in a daemon thread, one at a time; a call during one runs it again after."""
        with self._warm_lock:
            self._warm_again = True
            if self._warming:
                return
            self._warming = True

        def run() -> None:
            while True:
                with self._warm_lock:
                    if not self._warm_again:
                        self._warming = False
                        return
                    self._warm_again = False
                try:
                    self.warm_repo_map()
                except Exception as exc:  # a head start only: the next question builds the map itself
                    log.info("repo map not prepared in the background: %s", exc)

        threading.Thread(target=run, name="repo-map-warm", daemon=True).start()

    @property
    def watcher(self) -> IndexWatcher | None:
        """The running background refresh, if any (for status lines)."""
        return self._watcher

    def stop_watching(self) -> None:
        """Stop the background refresh (a refresh in progress stops at its next commit; nothing is lost)."""
        with self._reader_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _index_settings(self) -> IndexSettings:
        """The index settings with the embedder's threads as the CPU policy says."""
        threads = self.cpu.embedder_threads(self.settings.index.threads)
        if threads == self.settings.index.threads:
            return self.settings.index
        return replace(self.settings.index, threads=threads)

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

                self._backend = load_backend(self.settings.model, progress=progress, cpu=self.cpu)
            return self._backend

    def switch_model(self, name: str, progress: Callable[[str], None] | None = None) -> Backend:
        """Load another model; the current one stays in use if loading fails."""
        settings = replace(self.settings.model, name=name.strip())
        from assistant.models import load_backend

        backend = load_backend(settings, progress=progress, cpu=self.cpu)
        with self._model_lock:
            self._backend = backend
            self.settings.model = settings
        return backend

    def count_tokens(self, text: str) -> int:
        return self.model_facts().count(text)

    def model_facts(self) -> ModelFacts:
        """The model's token counter, window and device — without loading weights when it is not loaded.

        A local model's tokenizer and window come from its files; an HTTP endpoint is asked
        (its window may come from the server), and when it cannot be reached the counts are
        the over-counting estimate.  The loaded model, when there is one, answers itself.
        """
        backend = self._backend
        if backend is None and self.settings.model.backend.strip().lower() == "openai":
            with contextlib.suppress(Exception):  # unreachable: the estimate below, and ask fails clearly later
                backend = self.load_model()
        if backend is not None:
            return ModelFacts(backend.count_tokens, f"{backend.model_name} tokenizer", backend.context_window,
                              backend.device)
        from assistant.budget import expected_device
        from assistant.models import context_window, token_counter
        from assistant.models.families import DEFAULT_CONTEXT_WINDOW
        from base.tokens import ESTIMATE_NAME, estimate_tokens

        name = self.settings.model.name
        try:
            count = token_counter(self.settings.model)
            count("probe")
            counter_name = f"{name} tokenizer"
        except Exception as exc:  # no tokenizer offline, unknown model...: over-count instead
            log.info("token counter unavailable for %s: %s", name, exc)
            count, counter_name = estimate_tokens, f"{ESTIMATE_NAME}; the {name} tokenizer is unavailable"
        try:
            window = int(context_window(self.settings.model))
        except Exception as exc:
            log.info("context window unknown for %s: %s", name, exc)
            window = DEFAULT_CONTEXT_WINDOW
        return ModelFacts(count, counter_name, window, expected_device(self.settings))

    def budget(self, task: str, *, prompt_tokens: int = 0, requested: int | None = None,
               answer_tokens: int | None = None) -> Budget:
        """The context budget for ``task`` (see :mod:`assistant.budget`) with this session's model."""
        from assistant.budget import task_budget

        facts = self.model_facts()
        return task_budget(self.settings, task, window=facts.window, device=facts.device,
                           prompt_tokens=prompt_tokens, requested=requested, answer_tokens=answer_tokens)

    # ------------------------------------------------------------ retrieval

    def search(self, query: str, k: int = 20, *, mode: str | None = None, path_glob: str | None = None,
               language: str | None = None) -> list[SearchHit]:
        """Ranked hits for ``query`` with the user's retrieval settings (weights, ``rrf_k``, mode).

        ``mode`` overrides ``retrieval.mode``; without it, a failing vector side falls back to BM25.
        """
        from retrieval.context import search_with_fallback
        from retrieval.search import search

        if not query.strip():
            raise UsageError("the search query is empty")
        reader = self.reader()
        if mode is not None:
            return search(reader, query, k, mode=mode, path_glob=path_glob, language=language,
                          settings=self.settings.retrieval)
        return search_with_fallback(reader, query, self.settings.retrieval, k=k, path_glob=path_glob,
                                    language=language)

    def localize(self, issue_text: str, k: int = 10) -> Localization:
        """The files most likely to need a change for ``issue_text``, best first, with their best chunks."""
        from retrieval.localize import localize

        if not issue_text.strip():
            raise UsageError("the issue text is empty")
        return localize(self.reader(), issue_text, k, settings=self.settings.retrieval)

    def find_symbol(self, name: str) -> tuple[str, int, int]:
        """``(path, start_line, end_line)`` of a definition by qualified or simple name."""
        from retrieval.symbols import find_definitions

        found = find_definitions(self.reader(), name)
        if not found:
            raise UsageError(f"no definition named {name!r}", hint="try /search to find it")
        return found[0].path, found[0].start_line, found[0].end_line

    def warm_repo_map(self) -> bool:
        """Load, patch or build the repo map for the index as it is now; False when there is no index.

        The first question after an index change otherwise pays for it: on a 24K-file tree,
        ~5 s after a first index and ~0.5 s after an edit.  A front end that stays open (the
        TUI) calls this in the background whenever the index changed, so the question does
        not wait; the map it prepares is the one :func:`retrieval.context.build_context` uses.
        """
        from retrieval.repo_map import shared_repo_map

        reader = self._reader_or_none()
        if reader is None:
            return False
        key = str(self.repo)  # the key build_context maps this repository by
        repo_map = shared_repo_map(key)
        with repo_map.lock:
            repo_map.use(reader, key)
            repo_map.graph()
        return True

    def context(self, target: Target | None, query: str = "", *, budget: int, pinned: Sequence[str] | None = None,
                hits: Sequence[SearchHit] | None = None, active_text: str | None = None,
                rules: bool = True) -> BuiltContext:
        """The context around ``target`` (or the best code hit for ``query``) within ``budget`` tokens.

        Pins are this session's unless ``pinned`` is given.  Without a target, the context is
        centred on the best search hit in code for the query: the place the user would most
        likely have opened (prose such as a README often ranks first).  ``rules`` includes the
        project's rules files (``AGENTS.md``...) for the target, as every question and
        explanation does; another agent asking through MCP reads its own.
        """
        from retrieval.context import build_context
        from retrieval.types import BuiltContext, Target

        facts = self.model_facts()
        pins = tuple(self.pins.paths()) if pinned is None else tuple(pinned)
        if target is None:
            if hits is None:
                hits = self.search(query, self.settings.retrieval.top_k) if query.strip() else []
            if not hits:
                return BuiltContext(items=[], dropped=[], text="", tokens_used=0, budget=budget,
                                    counter=facts.counter_name)
            best = next((h for h in hits if not h.path.endswith(PROSE_SUFFIXES)), hits[0])
            target = Target(best.path, line=best.start_line)
        return build_context(self.reader(), target, query, budget, facts.count, repo=self.repo,
                             settings=self.settings.retrieval, pinned=pins, active_text=active_text,
                             counter_name=facts.counter_name, hits=hits, project_rules=rules)

    # ------------------------------------------------------------ questions and explanations

    def prepare_ask(self, question: str, *, target_path: str | None = None, line: int | None = None,
                    end_line: int | None = None, requested_budget: int | None = None,
                    max_new_tokens: int | None = None) -> PreparedPrompt:
        """Exactly the messages a question sends: instructions, history, context and question.

        Files the question names are pinned first (as ``@`` mentions), so the context and
        ``repo-assistant context --query`` see them too.
        """
        from assistant.prompts import NO_CONTEXT, ask_messages
        from retrieval.types import Target

        if not question.strip():
            raise UsageError("the question is empty")
        history = self._history_messages()
        draft = ask_messages(self.repo.name, question, "")
        target = Target(target_path, line=line, end_line=end_line) if target_path else None
        context, budget, notes = self._context_for("chat", [*history, *draft], target, question,
                                                   requested_budget, max_new_tokens)
        system, user = ask_messages(self.repo.name, question, context.text or NO_CONTEXT)
        return PreparedPrompt("ask", question, [system, *history, user], context, budget, notes)

    def prepare_explain(self, symbol: str = "", *, target_path: str | None = None, line: int | None = None,
                        end_line: int | None = None, requested_budget: int | None = None,
                        max_new_tokens: int | None = None) -> PreparedPrompt:
        """Exactly the messages an explanation sends.

        What is explained: ``symbol`` (found in the index; with ``target_path`` in that file
        only), the selection ``line..end_line``, the definition at the cursor ``line``, or the
        whole file.  The code itself is the context's active-file block, so it is shown once,
        under the heading the model cites.
        """
        from assistant.prompts import NO_CONTEXT, explain_messages
        from retrieval.types import Target

        explained = self.explain_target(symbol, target_path, line, end_line)
        history = self._history_messages()
        span = f"{explained.path}:{explained.start}-{explained.end}"
        draft = explain_messages(self.repo.name, explained.label, span, span, "")
        target = Target(explained.path, line=explained.start, end_line=explained.end)
        context, budget, notes = self._context_for("explain", [*history, *draft], target, explained.label,
                                                   requested_budget, max_new_tokens)
        shown = next((i for i in context.items if i.kind == "active-file"), None)
        start, end = explained.start, explained.end
        if shown is not None and (shown.start_line > start or shown.end_line < end):
            start, end = max(start, shown.start_line), min(end, shown.end_line)
            notes.append(f"the code was cut to lines {start}-{end} to fit the model's context")
        focus = Citation(explained.path, start, end)
        block = shown.label if shown is not None else focus.label
        system, user = explain_messages(self.repo.name, explained.label, focus.label, block,
                                        context.text or NO_CONTEXT)
        return PreparedPrompt("explain", f"/explain {explained.label}", [system, *history, user], context, budget,
                              notes, explained.label, focus)

    def explain_target(self, symbol: str, path: str | None, line: int | None,
                       end_line: int | None) -> ExplainTarget:
        """What ``/explain`` (or ``repo-assistant explain``) is about; raises :class:`UsageError` when unclear."""
        from retrieval.symbols import find_definition_in_text, find_definitions

        if symbol:
            # The file first (FILE:SYMBOL, or the open file), then the whole repository.
            reader = self._reader_or_none()
            if path is not None:
                found = find_definitions(reader, symbol, path=path) if reader is not None else []
                if found:
                    return ExplainTarget(path, found[0].start_line, found[0].end_line, symbol)
                span = find_definition_in_text(self.read_file(path), path, symbol)
                if span is not None:
                    return ExplainTarget(path, span[0], span[1], symbol)
            if reader is None:
                raise UsageError(f"no definition of {symbol!r} in {path}" if path else
                                 f"cannot look up {symbol!r} without an index",
                                 hint="run `repo-assistant index` to search the whole repository")
            found = find_definitions(reader, symbol)
            if not found:
                raise UsageError(f"no definition named {symbol!r}", hint="try /search to find it")
            return ExplainTarget(found[0].path, found[0].start_line, found[0].end_line, symbol)
        if path is None:
            raise UsageError("/explain needs a symbol or an open file", hint="open a file or type /explain NAME")
        total = max(1, len(self.read_file(path).splitlines()))
        if line is not None and not 1 <= line <= total:
            raise UsageError(f"line {line} is outside {path} ({total} lines)")
        if line is None:
            return ExplainTarget(path, 1, total, path)
        if end_line is not None and end_line > line:
            end = min(end_line, total)
            return ExplainTarget(path, line, end, f"{path}:{line}-{end}")
        reader = self._reader_or_none()
        file_symbols = reader.file_symbols(path) if reader is not None else None
        defined = [d for d in (file_symbols.definitions if file_symbols else ()) if d.start_line <= line <= d.end_line]
        if defined:  # the innermost definition the cursor is in
            d = min(defined, key=lambda d: d.end_line - d.start_line)
            return ExplainTarget(path, d.start_line, d.end_line, d.qualified_name)
        enclosing = [c for c in self._reader_chunks(path) if c.start_line <= line <= c.end_line]
        if enclosing:
            chunk = min(enclosing, key=lambda c: c.end_line - c.start_line)
            label = chunk.symbol or f"{path}:{chunk.start_line}-{chunk.end_line}"
            return ExplainTarget(path, chunk.start_line, chunk.end_line, label)
        start, end = max(1, line - NEARBY_LINES), min(total, line + NEARBY_LINES)
        return ExplainTarget(path, start, end, f"{path}:{start}-{end}")

    def _context_for(self, task: str, draft: Sequence[ChatMessage], target: Target | None, query: str,
                     requested: int | None, answer_tokens: int | None) -> tuple[BuiltContext, Budget, list[str]]:
        """The context for a prompt whose other messages are ``draft``, within the task's budget."""
        facts = self.model_facts()
        prompt_tokens = sum(facts.count(m.content) for m in draft)
        budget = self.budget(task, prompt_tokens=prompt_tokens, requested=requested, answer_tokens=answer_tokens)
        notes: list[str] = []
        if self._reader_or_none() is None:
            if target is None:  # nothing to answer from: say how to get an index instead of guessing
                self.reader()  # raises IndexMissingError, whose hint names `repo-assistant index`
            notes.append(f"no index for this repository: the context is {target.path} alone "
                         "(run `repo-assistant index` for the rest of the repository)")
            return self._file_only_context(target, budget.tokens, facts), budget, notes
        context = self.context(target, query, budget=budget.tokens)
        return context, budget, [*notes, *context.notes]

    def _file_only_context(self, target: Target, budget: int, facts: ModelFacts) -> BuiltContext:
        """The target's lines alone, rendered by the one renderer, for a repository without an index."""
        from retrieval import render
        from retrieval.types import BuiltContext, ContextItem

        lines = self.read_file(target.path).splitlines(keepends=True)
        start = max(1, target.line or 1)
        end = min(len(lines), target.end_line or (len(lines) if target.line is None else start))
        while end >= start and facts.count(render.block(target.path, lines, start, end, "active file")) > budget:
            end -= max(1, (end - start) // 8)
        if end < start:
            return BuiltContext(items=[], dropped=[], text="", tokens_used=0, budget=budget,
                                counter=facts.counter_name)
        text = render.block(target.path, lines, start, end, "active file")
        tokens = facts.count(text)
        item = ContextItem(target.path, start, end, "active-file", "active file (no index)", 1.0, tokens, text,
                           "".join(lines[start - 1:end]))
        return BuiltContext(items=[item], dropped=[], text=text, tokens_used=tokens, budget=budget,
                            counter=facts.counter_name)

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

        Yields :class:`ContextReady` (what the model sees), then :class:`AnswerDelta`
        pieces, then :class:`AnswerFinished` with the saved turn.  Files the question
        names are pinned automatically, and files the answer cites stay pinned while
        the conversation keeps using them.
        """
        changes = self._begin_turn(question)
        prepared = self.prepare_ask(question, target_path=target_path, line=line, end_line=end_line,
                                    max_new_tokens=max_new_tokens)
        yield ContextReady(prepared.context, changes, prepared)
        yield from self._stream_answer(prepared, cancel, max_new_tokens)

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
        """Explain a symbol (found in the index), the selection, the definition at the cursor or a file."""
        explained = self.explain_target(symbol, target_path, line, end_line)
        changes = self._begin_turn(f"/explain {explained.label}")
        prepared = self.prepare_explain(symbol, target_path=target_path, line=line, end_line=end_line,
                                        max_new_tokens=max_new_tokens)
        yield ContextReady(prepared.context, changes, prepared)
        yield from self._stream_answer(prepared, cancel, max_new_tokens)

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

    def _stream_answer(self, prepared: PreparedPrompt, cancel: threading.Event | None,
                       max_new_tokens: int | None) -> Iterator[AnswerEvent]:
        from assistant.models.base import GenerationParams

        backend = self.load_model()
        params = GenerationParams(
            max_new_tokens=max_new_tokens or self.settings.model.max_new_tokens,
            temperature=self.settings.model.temperature,
            top_p=self.settings.model.top_p,
        )
        guard = LoopGuard()
        cancelled = False
        deltas = backend.stream_chat(prepared.messages, params, cancel)
        try:
            for delta in deltas:
                yield AnswerDelta(delta)
                if guard.feed(delta):
                    break
        except GenerationCancelled:
            cancelled = True
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()  # a loop stops the model here (the backends cancel when their reader leaves)
        self._last_stats = backend.last_stats
        if guard.looping:
            # the backend saw its reader leave and called that a cancel: it was the loop guard's stop
            self._last_stats = replace(self._last_stats, finish_reason="repetition") \
                if self._last_stats is not None else None
        else:
            cancelled = cancelled or bool(cancel is not None and cancel.is_set())
        answer = guard.kept()
        citations = citations_or_sources(answer, self.files(), prepared.context, prepared.focus)
        with self._lock:
            cited = self.pins.use([c.path for c in citations if c.path in answer], CITED)
            self.chat.turns.append(Turn("user", prepared.request, prepared.kind))
            turn = Turn("assistant", answer, prepared.kind, citations)
            self.chat.turns.append(turn)
        self.save()
        yield AnswerFinished(turn, self._last_stats, cancelled, cited)

    # ------------------------------------------------------------ completion

    def complete(self, path: str, line: int, col: int | None, cancel: threading.Event | None = None, *,
                 context: str = "repo", max_new_tokens: int | None = None, text: str | None = None,
                 seed: int | None = None) -> CompletionSuggestion:
        """An inline completion at ``path:line:col`` (line 1-based, column 0-based; None: end of line)."""
        result = self.complete_full(path, line, col, cancel, context=context, max_new_tokens=max_new_tokens,
                                    text=text, seed=seed)
        return CompletionSuggestion(result.path, result.line, result.col, result.text, result.mode,
                                    result.breaks_syntax, result.stats, result.retrieved, tuple(result.sources))

    def complete_full(self, path: str, line: int, col: int | None, cancel: threading.Event | None = None, *,
                      context: str = "repo", max_new_tokens: int | None = None, text: str | None = None,
                      seed: int | None = None) -> Any:
        """The whole :class:`assistant.completion.CompletionResult` (for the CLI's report and benchmarks)."""
        from assistant.completion import complete

        result = complete(self.repo, path, line, col, settings=self.settings, backend=self.load_model(),
                          reader=self._reader_or_none(), cancel=cancel, context=context,
                          max_new_tokens=max_new_tokens, text=text, seed=seed)
        self._last_stats = result.stats
        return result

    def accept_completion(self, suggestion: CompletionSuggestion) -> str:
        """Insert an accepted completion into the file on disk; returns the new text."""
        text = self.read_file(suggestion.path)
        lines = text.splitlines(keepends=True)
        if suggestion.line < 1 or suggestion.line > len(lines) + 1:
            raise UsageError(f"{suggestion.path} changed: line {suggestion.line} no longer exists")
        offset = sum(len(x) for x in lines[: suggestion.line - 1]) + suggestion.col
        updated = text[:offset] + suggestion.text + text[offset:]
        write_atomic(self.repo / suggestion.path, updated, keep_mode=True)
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

    def propose_patch(self, issue: str | PatchRequest, *, title: str = "", cancel: threading.Event | None = None,
                      progress: Callable[[str], None] | None = None, samples: int | None = None,
                      model_progress: Callable[[str], None] | None = None) -> PatchReport:
        """Generate, validate, repair and rank candidate patches for an issue; nothing is written.

        ``issue`` is the issue's text, or a whole :class:`assistant.patch.generate.PatchRequest`
        (the CLI's flags).  Pinned files go to the patch prompt like ``--files``; the files the
        candidates touch are pinned automatically for the questions that follow.  The model
        is loaded only when candidates are to be sampled (not for ``replies``), and only after
        the issue has been localized, so a missing index fails first.
        """
        from assistant.patch.generate import PatchRequest, run_patch

        request = issue if isinstance(issue, PatchRequest) else PatchRequest(issue=issue, samples=samples)
        request.files = [*request.files, *(p for p in self.pins.paths() if p not in request.files)]
        loader = None if request.replies is not None else lambda: self.load_model(progress=model_progress)
        report = run_patch(self.repo, self.settings, self._backend, request, progress=progress, cancel=cancel,
                           backend_loader=loader)
        touched = sorted({path for c in report.candidates for path in c.files})
        with self._lock:
            self.pins.next_turn()
            self.pins.use([p for p in touched if p in self.files()], PATCH)
            verdicts = ", ".join(f"#{i} {c.verdict}" for i, c in enumerate(report.candidates, 1)) or "none"
            self.chat.turns.append(Turn("user", f"/patch {title or report.issue_title}", "patch"))
            self.chat.turns.append(Turn("note", f"patch candidates: {verdicts}", "patch"))
        self.save()
        return report

    def check_patch(self, candidate: Candidate, *, force: bool = False) -> None:
        """Raise :class:`PatchError` when the one apply gate would refuse ``candidate`` (to refuse before asking)."""
        from assistant.patch.apply import check_candidate

        check_candidate(self.repo, candidate, force=force)

    def apply_patch(self, candidate: Candidate, *, force: bool = False, title: str = "") -> Backup:
        """Apply a reviewed candidate through the one apply gate (:func:`assistant.patch.apply.apply_candidate`).

        The same refusals as ``repo-assistant patch --apply``: a rejected candidate, syntax
        errors or uncommitted changes in its files (unless ``force``), files changed since
        it was generated (always); a backup is kept for :meth:`undo`.
        """
        from assistant.patch.apply import apply_candidate

        backup = apply_candidate(self.repo, candidate, force=force, title=title)
        changed = [entry.path for entry in backup.files]
        self.add_note(f"applied patch ({candidate.verdict}) to {', '.join(changed)}; /undo restores them", "patch")
        self._files = None
        return backup

    def dirty_files(self, candidate: Candidate) -> list[str]:
        """Files the candidate edits that have uncommitted changes (the gate asks before touching them)."""
        from assistant.patch.apply import dirty_files

        return list(dirty_files(self.repo, [c.path for c in candidate.changes if c.old is not None]))

    def needs_force(self, candidate: Candidate) -> str:
        """Why the gate would refuse ``candidate`` unless forced ("" when it would not), for a front end to ask.

        Raises :class:`PatchError` for what no force overrides (a rejected candidate, files
        changed since it was generated, unsafe paths).
        """
        try:
            self.check_patch(candidate, force=False)
        except PatchError as refused:
            self.check_patch(candidate, force=True)
            return refused.message
        return ""

    def undo(self) -> list[str]:
        """Restore the files of the last applied patch from its backup (as ``repo-assistant undo``)."""
        from assistant.patch.apply import undo

        backup = undo(self.repo)
        restored = [entry.path for entry in backup.files]
        self.add_note(f"undid patch: restored {', '.join(restored)}", "patch")
        self._files = None
        return restored


# --------------------------------------------------------------------------- helpers


def _resolve_among(name: str, paths: Sequence[str]) -> str | None:
    from assistant.chat import resolve_path

    found = resolve_path(name, paths)
    if found is not None:
        return found
    base = [p for p in paths if p.rsplit("/", 1)[-1] == name]
    return base[0] if len(base) == 1 else None


def citations_or_sources(answer: str, files: Sequence[str], context: BuiltContext,
                         focus: Citation | None = None) -> list[Citation]:
    """Citations the answer makes; when it makes none, the context items it was given.

    Small models often forget to cite; the sources they saw are still worth one
    keystroke to open, and they are labelled as sources in the UI.  What was
    explained (``focus``) comes first, then the active-file block, then the rest.
    """
    cited = find_citations(answer, files)
    if cited:
        return cited
    items = sorted(context.items, key=lambda item: item.kind != "active-file")
    seen: list[Citation] = [focus] if focus is not None else []
    for item in items:
        citation = Citation(item.path, item.start_line, item.end_line)
        if item.path and citation not in seen and item.path in files:
            seen.append(citation)
    return seen[:MAX_SOURCES]


__all__ = [
    "AnswerDelta",
    "AnswerEvent",
    "AnswerFinished",
    "CompletionSuggestion",
    "ContextReady",
    "ExplainTarget",
    "IndexProgress",
    "IndexState",
    "ModelFacts",
    "PreparedPrompt",
    "SavedChat",
    "Session",
    "SessionStore",
    "early_stop_note",
]
