"""The terminal UI: a face over ``assistant.session.Session``, with no business logic.

Threading model: every blocking call (opening the index, indexing, loading a
model, retrieval, generation, patch validation) runs in a thread worker
(``@work(thread=True, exclusive=True, exit_on_error=False, group=...)``).
Workers never touch widgets: they post the dataclass messages of
:mod:`tui.messages`, and the ``@on`` handlers here own the screen.  A
generation is cancelled by setting its ``threading.Event`` (Esc / Ctrl+C); the
session then finishes the turn cleanly, saving what was streamed.  Errors from
the core are :class:`~base.errors.AssistantError` and become
notifications carrying the fix; anything else is logged and notified, never a
crash.

``make_app`` builds the app for the CLI and for the tests alike.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from assistant.session import (
    AnswerDelta,
    AnswerFinished,
    ContextReady,
    IndexProgress,
    Session,
    early_stop_note,
)
from base.config import Settings
from base.cpu import CpuPolicy
from base.errors import AssistantError, GenerationCancelled, UsageError
from tui import messages as m
from tui.commands import AssistantCommands
from tui.screens.confirm import ConfirmScreen
from tui.screens.file_picker import FilePicker
from tui.screens.help import HelpScreen
from tui.widgets.code_view import CodeView
from tui.widgets.context_inspector import ContextInspector
from tui.widgets.conversation import AssistantMessage, Conversation, LocationList, OpenLocation
from tui.widgets.file_tree import FileTree
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)

GENERATION_GROUPS = ("chat", "complete", "patch")
CHAT_WIDTH_DEFAULT = 45
CHAT_WIDTH_RANGE = (25, 75)
NARROW_WIDTH = 100


class AssistantApp(App[None]):
    """repo-assistant's terminal UI on one repository."""

    CSS_PATH = "app.tcss"
    TITLE = "repo-assistant"
    COMMANDS = App.COMMANDS | {AssistantCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="help", tooltip="Keys and commands"),
        Binding("ctrl+o", "open_file", "Open", id="open-file", tooltip="Open a file with the fuzzy picker"),
        Binding("f5", "reindex", "Index", id="reindex", tooltip="Re-index the repository in the background"),
        # Priority: the code view (a TextArea) binds F6/F7 to select line / select all.
        Binding("f6", "explain", "Explain", priority=True, id="explain",
                tooltip="Explain the code at the cursor or selection"),
        Binding("f7", "complete", "Complete", priority=True, id="complete",
                tooltip="Complete at the code view's cursor"),
        Binding("ctrl+n", "new_chat", "New chat", id="new-chat", tooltip="Start a new chat (this one stays saved)"),
        Binding("f2", "toggle_pane('tree')", "Files", show=False, id="toggle-tree",
                tooltip="Show or hide the file tree"),
        Binding("f3", "toggle_pane('code')", "Code", show=False, id="toggle-code",
                tooltip="Show or hide the code view"),
        Binding("f4", "toggle_pane('context')", "Context", show=False, id="toggle-context",
                tooltip="Show or hide the context inspector"),
        Binding("alt+left", "resize_chat(-5)", "Chat narrower", show=False, id="chat-narrower",
                tooltip="Make the chat column narrower"),
        Binding("alt+right", "resize_chat(5)", "Chat wider", show=False, id="chat-wider",
                tooltip="Make the chat column wider"),
        Binding("ctrl+l", "focus_prompt", "Prompt", show=False, id="focus-prompt",
                tooltip="Go to the prompt"),
        Binding("f8", "focus_results", "Results", show=False, id="focus-results",
                tooltip="Go to the latest search hits or sources (Enter opens one)"),
        Binding("escape", "cancel", "Stop", priority=True, id="cancel", tooltip="Stop the answer being generated"),
        Binding("ctrl+c", "cancel", "Stop", show=False, priority=True, id="cancel-ctrl-c"),
    ]

    def __init__(
        self,
        session: Session,
        settings: Settings,
        *,
        offer_index: bool = True,
        preload_model: bool = True,
        cursor_blink: bool = True,
        resumed: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.offer_index = offer_index
        self.preload_model = preload_model
        self.cursor_blink = cursor_blink
        self.resumed = resumed
        self.files: list[str] = []
        self.chat_width = CHAT_WIDTH_DEFAULT
        self._cancels: dict[str, threading.Event] = {}
        self._generating: set[str] = set()
        self._tree_auto = True  # shown or hidden by the terminal width until the user toggles it
        self._indexing = False
        self._answer: AssistantMessage | None = None
        self.sub_title = str(session.repo)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            tree = FileTree(self.session.repo.name, id="tree")
            tree.border_title = "Files"
            yield tree
            code = CodeView(id="code", cursor_blink=self.cursor_blink)
            code.border_title = "no file open · Ctrl+O or the tree"
            yield code
            with Vertical(id="chat-column"):
                conversation = Conversation(id="conversation")
                conversation.border_title = "Chat"
                yield conversation
                yield ContextInspector(id="context")
        yield PromptInput(id="prompt", cursor_blink=self.cursor_blink)
        yield StatusBar(id="status")
        yield Footer(id="footer", compact=True)

    async def on_mount(self) -> None:
        if self.settings.tui.theme in self.available_themes:
            self.theme = self.settings.tui.theme
        self._fit_tree(self.size.width)
        self.query_one("#context").display = self.settings.tui.show_context
        self._apply_chat_width()
        status = self.query_one(StatusBar)
        status.model, status.device = self.session.model_label()
        conversation = self.query_one(Conversation)
        if self.resumed and self.session.turns:
            await conversation.load(self.session.turns)
            self.query_one(ContextInspector).show_pins(self.session.pins.pins())
        else:
            await conversation.add_note(
                f"repo-assistant on {self.session.repo.name}: ask about the code, or /help for commands."
            )
        self.query_one(PromptInput).focus()
        self.start_up()
        if self.preload_model:
            self.load_model()
        self._watch_files()

    def _watch_files(self) -> None:
        """Re-index files as they change while the app runs (the session's watcher); the status bar follows."""

        def follow(event: Any) -> None:  # runs on the watcher's thread: post, never touch widgets
            if event.phase in ("bm25", "missing"):
                self.post_message(m.IndexStateChanged(self.session.index_state()))

        self.session.start_watching(follow)

    def on_unmount(self) -> None:
        self.session.stop_watching()

    # ------------------------------------------------------------------ workers

    def _fail(self, group: str, exc: AssistantError) -> None:
        severity = "warning" if isinstance(exc, UsageError) else "error"
        if isinstance(exc, GenerationCancelled):
            severity = "information"
        self.post_message(m.WorkFailed(group, exc.title, exc.one_line(), severity))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def list_files(self) -> None:
        try:
            self.post_message(m.FilesListed(self.session.files(refresh=True)))
        except AssistantError as exc:
            self._fail("files", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="index-state")
    def start_up(self) -> None:
        """The first screen's file tree and index state, walking the tree once at a time.

        Listing the files and checking the index state each walk the whole tree (seconds on
        24K files), and in two threads they also share one GIL, so the first screen waited
        for both.  The tree is filled from the index first (one query), then the state is
        checked (one walk), then the files on disk (new, skipped, deleted) replace the
        index's list when they differ.
        """
        try:
            indexed = self.session.reader().files()
        except AssistantError:
            indexed = []
        if indexed:
            self.post_message(m.FilesListed(indexed))
        try:
            self.post_message(m.IndexStateChanged(self.session.index_state(), first_check=True))
        except AssistantError as exc:
            self._fail("index-state", exc)
        try:
            on_disk = self.session.files(refresh=True)
        except AssistantError as exc:
            self._fail("files", exc)
            return
        if on_disk != indexed:
            self.post_message(m.FilesListed(on_disk))

    @work(thread=True, exclusive=True, exit_on_error=False, group="index-state")
    def check_index(self) -> None:
        try:
            self.post_message(m.IndexStateChanged(self.session.index_state()))
        except AssistantError as exc:
            self._fail("index-state", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="map")
    def warm_map(self) -> None:
        """Prepare the repo map for the index as it is, so the next question does not build it."""
        try:
            self.session.warm_repo_map()
        except AssistantError as exc:
            log.info("repo map not prepared: %s", exc.one_line())

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def load_model(self, name: str | None = None) -> None:
        def progress(text: str) -> None:
            self.post_message(m.ModelLoading(text))

        try:
            self.post_message(m.ModelLoading(f"loading {name or self.session.settings.model.name}…"))
            if name:
                self.session.switch_model(name, progress=progress)
            else:
                self.session.load_model(progress=progress)
            label, device = self.session.model_label()
            self.post_message(m.ModelReady(label, device))
        except AssistantError as exc:
            self._fail("model", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def run_index(self, rebuild: bool = False) -> None:
        cancel = self._cancels["index"] = threading.Event()

        def progress(update: IndexProgress) -> None:
            self.post_message(m.IndexProgressed(update))

        try:
            stats = self.session.run_index(progress, cancel, rebuild=rebuild)
            self.post_message(m.IndexFinished(stats, cancelled=cancel.is_set()))
        except AssistantError as exc:
            self._fail("index", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="chat")
    def run_chat(self, command: str, argument: str, target: tuple[str | None, int | None, int | None]) -> None:
        cancel = self._cancels["chat"]
        path, line, end_line = target
        try:
            if command == "explain":
                events: Iterable[Any] = self.session.explain(
                    argument, target_path=path, line=line, end_line=end_line, cancel=cancel)
            else:
                events = self.session.ask(argument, target_path=path, line=line, end_line=end_line, cancel=cancel)
            for event in events:
                if isinstance(event, AnswerDelta):
                    self.post_message(m.AnswerChunk(event.text))
                elif isinstance(event, ContextReady):
                    self.post_message(m.ContextBuilt(event.context, event.pins))
                elif isinstance(event, AnswerFinished):
                    self.post_message(m.AnswerDone(event.turn, event.stats, event.cancelled, event.pins))
        except AssistantError as exc:
            self._fail("chat", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def run_search(self, query: str) -> None:
        try:
            self.post_message(m.SearchFinished(query, self.session.search(query)))
        except AssistantError as exc:
            self._fail("search", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="complete")
    def run_complete(self, path: str, line: int, col: int) -> None:
        cancel = self._cancels["complete"]
        try:
            suggestion = self.session.complete(path, line, col, cancel=cancel)
            if not cancel.is_set():
                self.post_message(m.CompletionReady(suggestion))
        except AssistantError as exc:
            self._fail("complete", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="patch")
    def run_patch(self, argument: str) -> None:
        cancel = self._cancels["patch"]

        def progress(text: str) -> None:
            self.post_message(m.PatchProgress(text))

        try:
            title, text = self.session.read_issue(argument)
            self.post_message(m.PatchProgress(f"proposing patches for {title}…"))
            report = self.session.propose_patch(text, title=title, cancel=cancel, progress=progress)
            if not cancel.is_set():
                self.post_message(m.PatchReady(title, report))
        except AssistantError as exc:
            self._fail("patch", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply")
    def run_apply(self, candidate: Any, force: bool = False) -> None:
        try:
            if not force:
                reason = self.session.needs_force(candidate)  # the one gate: syntax errors, uncommitted files
                if reason:
                    self.post_message(m.PatchNeedsForce(candidate, reason))
                    return
            backup = self.session.apply_patch(candidate, force=force)
            self.post_message(m.PatchApplied([entry.path for entry in backup.files]))
        except AssistantError as exc:
            self._fail("apply", exc)

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply")
    def run_undo(self) -> None:
        try:
            self.post_message(m.PatchUndone(self.session.undo()))
        except AssistantError as exc:
            self._fail("apply", exc)

    def _start(self, group: str, start: Callable[..., Worker[None]], *args: Any) -> None:
        """Start a generation worker with a fresh cancel event and mark the app busy."""
        self._cancels[group] = threading.Event()
        self._generating.add(group)
        self.refresh_bindings()
        self._set_activity()
        start(*args)

    def _set_activity(self) -> None:
        labels = {"chat": "generating… Esc stops", "complete": "completing… Esc stops",
                  "patch": "patching… Esc stops"}
        running = [labels[g] for g in GENERATION_GROUPS if g in self._generating]
        self.query_one(StatusBar).activity = running[0] if running else ""

    @property
    def busy(self) -> bool:
        """A generation is running (what Esc / Ctrl+C stop)."""
        return bool(self._generating)

    # ------------------------------------------------------------------ input

    @on(Input.Submitted, "#prompt")
    async def _submitted(self, event: Input.Submitted) -> None:
        prompt = self.query_one(PromptInput)
        text = event.value.strip()
        if not text:
            return
        try:
            parsed = self.session.parse(text)
        except UsageError as exc:
            self.notify(exc.hint or "", title=exc.message, severity="warning")
            return
        if parsed.command in ("ask", "explain") and "chat" in self._generating:
            # Typed while an answer streams: keep it in the prompt to send once the answer is done.
            self.notify("an answer is still streaming: your question stays here (Esc stops the answer)",
                        severity="warning")
            return
        prompt.remember(text)
        prompt.value = ""
        self.post_message(m.QuestionSubmitted(text, parsed.command))
        await self.dispatch_command(parsed.command, parsed.argument, text)

    async def dispatch_command(self, command: str, argument: str, text: str = "") -> None:
        """Run one parsed input: a question or a slash command."""
        conversation = self.query_one(Conversation)
        if command in ("ask", "explain"):
            if "chat" in self._generating:
                self.notify("an answer is still streaming: Esc stops it", severity="warning")
                return
            target = self._target() if command == "ask" or not argument else (None, None, None)
            if command == "explain" and not argument and target[0] is None:
                self.notify("open a file or name a symbol: /explain NAME", title="Nothing to explain",
                            severity="warning")
                return
            await conversation.add_user(text or f"/explain {argument}".strip())
            self._answer = await conversation.start_answer(command)
            self._start("chat", self.run_chat, command, argument, target)
        elif command == "complete":
            await self.action_complete()
        elif command == "patch":
            await conversation.add_user(text or f"/patch {argument}")
            self._start("patch", self.run_patch, argument)
        elif command == "search":
            await conversation.add_user(text or f"/search {argument}")
            self.run_search(argument)
        elif command == "add":
            self._pin(argument)
        elif command == "drop":
            self._unpin(argument)
        elif command == "index":
            self.action_reindex()
        elif command == "model":
            self.load_model(argument)
        elif command == "undo":
            self.action_undo()
        elif command == "clear":
            await self.action_new_chat()
        elif command == "resume":
            await self._resume(argument or None)
        elif command == "help":
            self.action_help()

    def _target(self) -> tuple[str | None, int | None, int | None]:
        code = self.query_one(CodeView)
        if code.path is None:
            return None, None, None
        line, end_line, _col = code.cursor_target()
        return code.path, line, end_line

    def _pin(self, name: str) -> None:
        self._change_pin(name, pin=True)

    def _unpin(self, name: str) -> None:
        self._change_pin(name, pin=False)

    def _change_pin(self, name: str, *, pin: bool) -> None:
        """/add and /drop: one path for pinning and unpinning, errors as notifications."""
        try:
            path = self.session.add_pin(name) if pin else self.session.drop_pin(name)
        except AssistantError as exc:
            self.notify(exc.hint or "", title=exc.message, severity="warning")
            return
        self.query_one(ContextInspector).show_pins(self.session.pins.pins())
        self.notify(f"{'pinned' if pin else 'unpinned'} {path}", timeout=3)

    async def _resume(self, chat_id: str | None) -> None:
        if self.busy:
            self.notify("wait for the answer, or Esc to stop it", severity="warning")
            return
        try:
            chat = self.session.resume(chat_id)
        except AssistantError as exc:
            self.notify(exc.hint or "", title=exc.message, severity="warning")
            return
        await self.query_one(Conversation).load(chat.turns)
        inspector = self.query_one(ContextInspector)
        inspector.clear()
        inspector.show_pins(self.session.pins.pins())
        self.notify(f"resumed: {chat.title}", timeout=3)

    @on(PromptInput.PickFile)
    def _pick_for_prompt(self, event: PromptInput.PickFile) -> None:
        prompt = event.prompt

        def chosen(path: str | None) -> None:
            if path:
                prompt.insert_path(path)
                self._pin_quietly(path)
            prompt.focus()

        self.push_screen(FilePicker(self.files, title="Mention a file (pins it)"), chosen)

    def _pin_quietly(self, path: str) -> None:
        try:
            self.session.add_pin(path, source="mentioned")
        except AssistantError:
            return
        self.query_one(ContextInspector).show_pins(self.session.pins.pins())

    # ------------------------------------------------------------------ messages from workers

    @on(m.FilesListed)
    def _files_listed(self, message: m.FilesListed) -> None:
        self.files = message.files
        self.query_one(FileTree).set_files(message.files)

    @on(m.IndexStateChanged)
    def _index_state(self, message: m.IndexStateChanged) -> None:
        status = self.query_one(StatusBar)
        state = message.state
        if not self._indexing:
            status.hide_progress()
            status.index_label = state.label
            status.index_level = {"fresh": "ok", "stale": "warning"}.get(state.status, "error")
            if state.status in ("fresh", "stale"):
                self.warm_map()  # a no-op when the map already follows this index
        if state.status == "missing" and message.first_check and self.offer_index:
            self.push_screen(
                ConfirmScreen(
                    f"{self.session.repo.name} has no index yet. Index it now?",
                    yes="Index now", no="Later",
                    detail="Search and answers need it; it runs in the background (F5 or /index later).",
                ),
                self._index_answer,
            )
        elif state.status == "missing" and message.first_check:
            self.notify("press F5 or type /index to build it", title="No index yet", severity="warning")

    def _index_answer(self, yes: bool | None) -> None:
        if yes:
            self.action_reindex()
        else:
            self.notify("press F5 or type /index when you want it", title="Not indexed", timeout=4)

    @on(m.IndexProgressed)
    def _index_progress(self, message: m.IndexProgressed) -> None:
        update = message.progress
        phase = update.message or update.phase
        self.query_one(StatusBar).show_progress(update.fraction, phase)

    @on(m.IndexFinished)
    def _index_finished(self, message: m.IndexFinished) -> None:
        stats = message.stats
        indexed = getattr(stats, "files_indexed", 0)
        chunks = getattr(stats, "chunks_total", 0)
        self.notify(f"{indexed} files indexed, {chunks} chunks", title="Index ready", timeout=4)
        self.list_files()

    @on(m.ModelLoading)
    def _model_loading(self, message: m.ModelLoading) -> None:
        self.query_one(StatusBar).activity = message.text

    @on(m.ModelReady)
    def _model_ready(self, message: m.ModelReady) -> None:
        status = self.query_one(StatusBar)
        status.model, status.device = message.name, message.device
        self._set_activity()

    @on(m.ContextBuilt)
    async def _context_built(self, message: m.ContextBuilt) -> None:
        inspector = self.query_one(ContextInspector)
        inspector.show(message.context)
        inspector.show_pins(self.session.pins.pins())
        if message.pins:
            await self.query_one(Conversation).add_note(message.pins.describe())

    @on(m.AnswerChunk)
    async def _answer_chunk(self, message: m.AnswerChunk) -> None:
        if self._answer is not None:
            await self._answer.write(message.text)

    @on(m.AnswerDone)
    async def _answer_done(self, message: m.AnswerDone) -> None:
        answer, self._answer = self._answer, None
        if answer is not None:
            await answer.finish(message.turn, message.cancelled, early_stop_note(message.stats))
        if message.stats is not None and message.stats.tokens_per_s:
            self.query_one(StatusBar).speed = message.stats.tokens_per_s
        self.query_one(ContextInspector).show_pins(self.session.pins.pins())
        if message.pins:
            await self.query_one(Conversation).add_note(message.pins.describe())

    @on(m.SearchFinished)
    async def _search_finished(self, message: m.SearchFinished) -> None:
        """Show the hits; typing stays in the prompt (F8 goes to the hits)."""
        await self.query_one(Conversation).add_search(message.query, message.hits)

    @on(m.CompletionReady)
    def _completion_ready(self, message: m.CompletionReady) -> None:
        suggestion = message.suggestion
        code = self.query_one(CodeView)
        if code.path != suggestion.path:
            return
        self.query_one(ContextInspector).show_completion(suggestion)  # what it saw, even when it adds nothing
        if not suggestion.text.strip():
            self.notify("the model had nothing to add here", title="No completion", timeout=3)
            return
        code.show_suggestion(suggestion)
        code.focus()
        if suggestion.breaks_syntax:
            self.notify("with this completion the file no longer parses", severity="warning", timeout=4)

    @on(CodeView.SuggestionAccepted)
    def _completion_accepted(self, message: CodeView.SuggestionAccepted) -> None:
        suggestion = message.suggestion
        try:
            text = self.session.accept_completion(suggestion)
        except AssistantError as exc:
            self.notify(exc.hint or "", title=exc.message, severity="error")
            return
        lines = suggestion.text.split("\n")
        code = self.query_one(CodeView)
        code.open(suggestion.path, text)
        end_row = suggestion.line - 1 + len(lines) - 1
        end_col = (suggestion.col if len(lines) == 1 else 0) + len(lines[-1])
        code.move_cursor((end_row, end_col))
        self.notify(f"inserted into {suggestion.path}", timeout=3)
        self.check_index()

    @on(m.PatchProgress)
    def _patch_progress(self, message: m.PatchProgress) -> None:
        self.query_one(StatusBar).activity = message.text

    @on(m.PatchReady)
    def _patch_ready(self, message: m.PatchReady) -> None:
        from tui.screens.patch_review import PatchReviewScreen

        self.push_screen(PatchReviewScreen(message.title, message.report), self._review_done)

    def _review_done(self, result: tuple[str, Any] | None) -> None:
        if result is None:
            self.run_worker(self.query_one(Conversation).add_note("patch rejected: nothing changed"))
            return
        _action, candidate = result
        self.run_apply(candidate)

    @on(m.PatchNeedsForce)
    def _patch_needs_force(self, message: m.PatchNeedsForce) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_apply(message.candidate, force=True)
            else:
                self.notify(message.reason, title="Patch not applied", timeout=4)

        self.push_screen(ConfirmScreen(
            f"{message.reason.rstrip('.')}. Apply anyway?", yes="Apply anyway", no="Cancel",
            detail="A backup of the current contents is kept: /undo restores them exactly."), answered)

    @on(m.PatchApplied)
    async def _patch_applied(self, message: m.PatchApplied) -> None:
        await self.query_one(Conversation).add_note(
            f"applied: {', '.join(message.files)} (/undo restores them)", "success")
        self._reload_open_file(message.files)
        self.check_index()

    @on(m.PatchUndone)
    async def _patch_undone(self, message: m.PatchUndone) -> None:
        await self.query_one(Conversation).add_note(f"undone: restored {', '.join(message.files)}", "success")
        self._reload_open_file(message.files)
        self.check_index()

    def _reload_open_file(self, files: list[str]) -> None:
        code = self.query_one(CodeView)
        if code.path in files:
            line, _end, _col = code.cursor_target()
            self._open(code.path, line)

    @on(m.WorkFailed)
    async def _work_failed(self, message: m.WorkFailed) -> None:
        self.notify(message.message, title=message.title, severity=message.severity, timeout=8)  # type: ignore[arg-type]
        if message.group == "model":
            self._set_activity()

    @on(Worker.StateChanged)
    async def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        group = worker.group
        if group == "index":
            self._indexing = False
            self.query_one(StatusBar).hide_progress()
            self.check_index()
        if worker.state == WorkerState.ERROR:
            error = worker.error
            log.error("worker %s failed", group, exc_info=error)
            self.notify(f"{type(error).__name__}: {error} (details in .repo-assistant/logs/assistant.log)",
                        title="Unexpected error", severity="error", timeout=10)
        if group in GENERATION_GROUPS:
            self._generating.discard(group)
            if group == "chat" and self._answer is not None:
                # No AnswerDone: the request failed before or while streaming.
                answer, self._answer = self._answer, None
                await answer.stop_stream()
                if not answer.markdown.source.strip():
                    await answer.remove()
            self._set_activity()
            self.refresh_bindings()

    # ------------------------------------------------------------------ opening files

    @on(FileTree.FileChosen)
    def _file_chosen(self, event: FileTree.FileChosen) -> None:
        self._open(event.path)

    @on(OpenLocation)
    def _open_location(self, event: OpenLocation) -> None:
        event.stop()
        self._open(event.path, event.line, event.end_line)

    def _open(self, path: str, line: int | None = None, end_line: int | None = None) -> None:
        try:
            text = self.session.read_file(path)
        except AssistantError as exc:
            self.notify(exc.hint or "", title=exc.message, severity="error")
            return
        code = self.query_one(CodeView)
        code.display = True
        self._apply_chat_width()
        code.open(path, text, line, end_line)
        self.query_one(FileTree).reveal(path)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.busy
        return True

    def command_available(self, action: str) -> bool:
        """Whether a palette command applies now."""
        if action == "cancel":
            return self.busy
        if action in ("explain", "complete"):
            return self.query_one(CodeView).path is not None
        return True

    def action_cancel(self) -> None:
        """Stop the running generation (Esc / Ctrl+C); otherwise let the key do its usual job."""
        if not self.busy or self.screen is not self.screen_stack[0]:
            raise SkipAction()
        for group in GENERATION_GROUPS:
            if group in self._generating:
                self._cancels[group].set()
        self.query_one(StatusBar).activity = "stopping…"

    def action_help(self) -> None:
        keys = [(b.key_display or b.key, b.tooltip or b.description) for b in self.BINDINGS
                if isinstance(b, Binding) and b.description and b.id != "cancel-ctrl-c"]
        keys.insert(-1, ("ctrl+c", "Stop the answer (or copy, when nothing runs)"))
        keys += [("ctrl+p", "Command palette"), ("tab / shift+tab", "Move between panes"),
                 ("tab (code view)", "Accept a completion"), ("ctrl+q", "Quit")]
        self.push_screen(HelpScreen(keys))

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def action_focus_results(self) -> None:
        """F8: the latest list of locations (search hits or an answer's sources), to open one with Enter."""
        lists = self.query_one(Conversation).query(LocationList)
        if not lists:
            self.notify("no search hits or sources yet: /search QUERY", timeout=3)
            return
        lists.last().focus()

    def action_prefill(self, text: str) -> None:
        prompt = self.query_one(PromptInput)
        prompt.value = text
        prompt.cursor_position = len(text)
        prompt.focus()

    def action_open_file(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self._open(path)
                self.query_one(CodeView).focus()

        self.push_screen(FilePicker(self.files, title="Open a file"), chosen)

    def action_pin_file(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self._pin(path)

        self.push_screen(FilePicker(self.files, title="Pin a file into the context"), chosen)

    def action_reindex(self) -> None:
        if self._indexing:
            self.notify("indexing is already running", timeout=3)
            return
        self._indexing = True
        self.query_one(StatusBar).show_progress(None, "starting")
        self.run_index()

    async def action_explain(self) -> None:
        await self.dispatch_command("explain", "")

    async def action_complete(self) -> None:
        code = self.query_one(CodeView)
        if code.path is None:
            self.notify("open a file and put the cursor where code should go", title="Nothing to complete",
                        severity="warning")
            return
        if "complete" in self._generating:
            return
        line, _end, col = code.cursor_target()
        self._start("complete", self.run_complete, code.path, line, col)

    def action_undo(self) -> None:
        self.run_undo()

    async def action_new_chat(self) -> None:
        if self.busy:
            self.notify("wait for the answer, or Esc to stop it", severity="warning")
            return
        self.session.new_chat()
        conversation = self.query_one(Conversation)
        await conversation.clear()
        await conversation.add_note("new chat: the previous one is saved (/resume brings it back).")
        inspector = self.query_one(ContextInspector)
        inspector.clear()
        inspector.show_pins([])

    async def action_resume(self) -> None:
        await self._resume(None)

    def on_app_focus(self, event: events.AppFocus) -> None:
        """Back from the editor or a shell: files may have changed, so the index state is checked again."""
        if not any(w.group == "index-state" and not w.is_finished for w in self.workers):
            self.check_index()  # not over a running check: the first one offers to index

    def on_resize(self, event: events.Resize) -> None:
        self._fit_tree(event.size.width)

    def _fit_tree(self, width: int) -> None:
        """Below 100 columns the tree starts hidden (F2 shows it) so code and chat keep their room."""
        if self._tree_auto:
            self.query_one("#tree").display = self.settings.tui.show_tree and width >= NARROW_WIDTH

    def action_toggle_pane(self, pane: str) -> None:
        if pane == "tree":
            self._tree_auto = False
        widget = self.query_one(f"#{pane}")
        widget.display = not widget.display
        self._apply_chat_width()
        if not widget.display and widget.has_focus_within:
            self.query_one(PromptInput).focus()

    def action_resize_chat(self, step: int) -> None:
        low, high = CHAT_WIDTH_RANGE
        self.chat_width = max(low, min(high, self.chat_width + step))
        self._apply_chat_width()

    def _apply_chat_width(self) -> None:
        column = self.query_one("#chat-column")
        column.styles.width = f"{self.chat_width}%" if self.query_one("#code").display else "1fr"


def make_app(
    repo: Path,
    settings: Settings,
    *,
    session: Session | None = None,
    backend: Any = None,
    resume: bool = False,
    offer_index: bool = True,
    preload_model: bool = True,
    cursor_blink: bool = True,
) -> AssistantApp:
    """Build the app on ``repo``: the one factory the CLI and the tests share.

    ``backend`` injects a loaded model (tests share one); ``resume`` continues
    the most recent saved chat of the repository.
    """
    # Background indexing and query embedding run next to generation here: share the cores.
    session = session or Session(repo, settings, backend=backend, cpu=CpuPolicy(shared=True))
    resumed = False
    if resume:
        try:
            session.resume()
            resumed = True
        except UsageError:
            resumed = False
    return AssistantApp(session, settings, offer_index=offer_index, preload_model=preload_model,
                        cursor_blink=cursor_blink, resumed=resumed)


__all__ = ["AssistantApp", "make_app"]
