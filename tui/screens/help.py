"""Keys and slash commands, generated from the bindings and the command table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from assistant.chat import SLASH_COMMANDS


def help_markdown(keys: list[tuple[str, str]]) -> str:
    """The help text: slash commands first (what people type), then keys."""
    lines = ["# repo-assistant", "", "Ask anything about the repository, or use a command.", "", "## Commands", ""]
    for command in SLASH_COMMANDS:
        usage = f"/{command.name} {command.usage}".strip().replace(" | ", " or ")
        lines.append(f"- `{usage}` — {command.help}")
    lines += ["", "`@path` in a message opens the file picker and pins the file.", "", "## Keys", ""]
    lines += [f"- `{key}` — {description}" for key, description in keys]
    lines += ["", "Esc closes this help."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """A scrollable help page; Esc, q or F1 close it."""

    BINDINGS = [Binding("escape,q,f1", "close", "Close", id="help-close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Markdown(help_markdown(self.keys), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def action_close(self) -> None:
        self.dismiss(None)
