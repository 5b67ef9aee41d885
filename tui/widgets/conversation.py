"""The conversation pane: questions, streamed Markdown answers, their sources, search hits, notes.

Answers stream into a ``Markdown`` widget through ``Markdown.get_stream()``; the
app stops the stream when the worker ends, whatever the outcome.  Under each
answer a list of the code it cites (or, when the model cited nothing, the
sources it was given) opens the file at those lines with Enter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, OptionList, Static
from textual.widgets.markdown import MarkdownStream
from textual.widgets.option_list import Option

from assistant.chat import Citation, Turn


@dataclass
class OpenLocation(Message):
    """Open ``path`` in the code view at ``line`` (1-based), selecting to ``end_line``."""

    path: str
    line: int | None = None
    end_line: int | None = None


class UserMessage(Static):
    """What the user typed."""

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False, classes="user-message")


class NoteMessage(Static):
    """Something the app reports: pins changed, a patch applied, a cancelled answer."""

    def __init__(self, text: str, severity: str = "info") -> None:
        super().__init__(text, markup=False, classes=f"note-message -{severity}")


class LocationList(OptionList):
    """Locations (citations or search hits); Enter opens the highlighted one."""

    def __init__(self, locations: Sequence[tuple[str, Citation]], *, classes: str = "") -> None:
        self.locations = [loc for _label, loc in locations]
        super().__init__(*[Option(label, id=str(i)) for i, (label, _loc) in enumerate(locations)],
                         classes=classes)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        location = self.locations[event.option_index]
        self.post_message(OpenLocation(location.path, location.start_line, location.end_line))


class AssistantMessage(Vertical):
    """One answer: Markdown that grows while the model streams, then its sources."""

    def __init__(self, text: str = "", *, kind: str = "ask") -> None:
        super().__init__(classes=f"assistant-message -{kind}")
        self._initial = text
        self._stream: MarkdownStream | None = None
        self.markdown = Markdown(text, classes="answer")

    def compose(self) -> ComposeResult:
        yield self.markdown

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def start_stream(self) -> None:
        self._stream = Markdown.get_stream(self.markdown)

    async def write(self, text: str) -> None:
        if self._stream is None:
            self.start_stream()
        assert self._stream is not None
        await self._stream.write(text)

    async def stop_stream(self) -> None:
        """Flush and stop the stream (safe to call twice)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.stop()

    async def finish(self, turn: Turn, cancelled: bool, note: str = "") -> None:
        """Show the final text (what was saved), a cancel or early-stop mark, and the sources list.

        ``note`` says why the core ended the answer early (a loop): the streamed text is then
        replaced by the saved one, which keeps a single copy of the repeated part.
        """
        await self.stop_stream()
        if not turn.content.strip():
            await self.markdown.update("*(no answer)*" if not cancelled else "*(cancelled)*")
        elif note:
            await self.markdown.update(turn.content)
        if note:
            await self.mount(NoteMessage(note, "warning"))
        elif cancelled and turn.content.strip():
            await self.mount(NoteMessage("stopped", "warning"))
        if turn.citations:
            # A path the answer names is a citation; the others are the sources it was given.
            options = [(f"{'cited' if c.path in turn.content else 'source'}  {c.label}", c)
                       for c in turn.citations]
            await self.mount(LocationList(options, classes="sources"))


class SearchResults(LocationList):
    """``/search`` hits: path, lines, symbol and score; Enter opens a hit."""

    @classmethod
    def from_hits(cls, hits: Sequence[Any]) -> SearchResults:
        rows: list[tuple[str, Citation]] = []
        for hit in hits:
            chunk = getattr(hit, "chunk", hit)
            path = str(getattr(hit, "path", getattr(chunk, "path", "")))
            start = int(getattr(hit, "start_line", getattr(chunk, "start_line", 1)))
            end = int(getattr(hit, "end_line", getattr(chunk, "end_line", start)))
            symbol = str(getattr(hit, "symbol", getattr(chunk, "symbol", "")) or "")
            score = float(getattr(hit, "score", 0.0))
            label = f"{path}:{start}-{end}" + (f"  {symbol}" if symbol else "") + f"  ({score:.2f})"
            rows.append((label, Citation(path, start, end)))
        return cls(rows, classes="search-results")


class Conversation(VerticalScroll):
    """The scrolling chat log; it sticks to the bottom while an answer streams."""

    can_focus = False

    async def add_user(self, text: str) -> None:
        await self.mount(UserMessage(text))
        self.anchor()

    async def add_note(self, text: str, severity: str = "info") -> None:
        await self.mount(NoteMessage(text, severity))
        self.anchor()

    async def start_answer(self, kind: str = "ask") -> AssistantMessage:
        message = AssistantMessage(kind=kind)
        await self.mount(message)
        message.start_stream()
        self.anchor()
        return message

    async def add_search(self, query: str, hits: Sequence[Any]) -> SearchResults | None:
        if not hits:
            await self.add_note(f"no results for {query!r}", "warning")
            return None
        await self.add_note(f"{len(hits)} results for {query!r} — F8 goes to them, Enter opens a hit")
        results = SearchResults.from_hits(hits)
        await self.mount(results)
        self.anchor()
        return results

    async def clear(self) -> None:
        await self.remove_children()

    async def load(self, turns: Sequence[Turn]) -> None:
        """Show a saved conversation."""
        await self.clear()
        for turn in turns:
            if turn.role == "user":
                await self.mount(UserMessage(turn.content))
            elif turn.role == "assistant":
                message = AssistantMessage(turn.content, kind=turn.kind)
                await self.mount(message)
                await message.finish(turn, cancelled=False)
            else:
                await self.mount(NoteMessage(turn.content))
        self.anchor()
