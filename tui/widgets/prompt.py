"""The input line: questions and slash commands, with completion and history.

Typing ``/ex`` suggests ``/explain`` (Tab or → accepts); typing ``@`` at the
start of a word asks the app to open the fuzzy file picker, whose choice
replaces the ``@`` token.  ↑/↓ walk through earlier inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from assistant.chat import SLASH_COMMANDS, complete_command


class SlashSuggester(Suggester):
    """Suggests slash command names (and their usage) while the first word is typed."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value.startswith("/") or " " in value:
            return None
        matches = complete_command(value)
        if not matches:
            return None
        return matches[0] + " "


class PromptInput(Input):
    """The message box at the bottom of the screen."""

    BINDINGS = [
        Binding("tab", "accept_suggestion", "Complete", show=False, id="complete-command"),
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
    ]

    @dataclass
    class PickFile(Message):
        """The user typed ``@``: open the file picker."""

        prompt: PromptInput

    def __init__(self, *, id: str | None = None, cursor_blink: bool = True) -> None:
        names = " ".join(f"/{c.name}" for c in SLASH_COMMANDS[:6])
        super().__init__(
            placeholder=f"Ask about the code, or {names} … (/help)",
            suggester=SlashSuggester(), id=id,
        )
        self.cursor_blink = cursor_blink
        self.history: list[str] = []
        self._history_index = 0

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._history_index = len(self.history)

    def action_accept_suggestion(self) -> None:
        if not self._suggestion or self._suggestion == self.value:
            raise SkipAction()
        self.value = self._suggestion
        self.cursor_position = len(self.value)

    def action_history(self, step: int) -> None:
        if not self.history:
            raise SkipAction()
        self._history_index = max(0, min(len(self.history), self._history_index + step))
        self.value = self.history[self._history_index] if self._history_index < len(self.history) else ""
        self.cursor_position = len(self.value)

    def insert_path(self, path: str) -> None:
        """Replace the ``@token`` before the cursor with ``@path``."""
        before = self.value[: self.cursor_position]
        after = self.value[self.cursor_position:]
        at = before.rfind("@")
        if at < 0:
            at = len(before)
        before = before[:at] + "@" + path + " "
        self.value = before + after
        self.cursor_position = len(before)

    def on_input_changed(self, event: Input.Changed) -> None:
        text = self.value[: self.cursor_position]
        if text.endswith("@") and (len(text) == 1 or text[-2] == " "):
            self.post_message(self.PickFile(self))
