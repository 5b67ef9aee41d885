"""The active file: read-only, highlighted, with line numbers, a cursor and a selection.

It also shows an inline completion as a suggestion at the cursor: the first
line in place, a count of the remaining lines in the border; Tab accepts it,
Esc dismisses it.  Accepting only posts a message; the app asks the session to
write the file.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import Selection

from assistant.session import CompletionSuggestion

LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
    ".ts": "javascript", ".tsx": "javascript", ".go": "go", ".rs": "rust", ".java": "java",
    ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".md": "markdown",
    ".sql": "sql", ".sh": "bash", ".css": "css", ".html": "html", ".xml": "xml",
}


def language_for(path: str) -> str | None:
    """The highlighting language for a path, when its grammar is installed."""
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    name = LANGUAGES.get(suffix)
    if name is None:
        return None
    return name if importlib.util.find_spec(f"tree_sitter_{name}") is not None else None


class CodeView(TextArea):
    """A read-only code editor view of one repository file."""

    BINDINGS = [
        Binding("tab", "accept_suggestion", "Accept", id="accept-completion", show=False),
        Binding("escape", "dismiss_suggestion", "Dismiss", id="dismiss-completion", show=False),
    ]

    @dataclass
    class SuggestionAccepted(Message):
        suggestion: CompletionSuggestion

    def __init__(self, *, id: str | None = None, cursor_blink: bool = True) -> None:
        super().__init__(
            "", read_only=True, show_line_numbers=True, soft_wrap=False, id=id, tab_behavior="focus",
        )
        self.show_cursor = True
        self.cursor_blink = cursor_blink
        self.hide_suggestion_on_blur = False
        self.path: str | None = None
        self.pending: CompletionSuggestion | None = None

    def open(self, path: str, text: str, line: int | None = None, end_line: int | None = None) -> None:
        """Show ``text`` as ``path`` and put the cursor on ``line`` (1-based), selecting to ``end_line``."""
        if path != self.path or text != self.text:
            self.language = None
            self.load_text(text)
            self.language = language_for(path)
        self.path = path
        self.dismiss()
        self.border_title = path
        if line is not None:
            row = max(0, min(line - 1, self.document.line_count - 1))
            if end_line is not None and end_line > line:
                end_row = min(end_line - 1, self.document.line_count - 1)
                # Anchored at the end, so the cursor (which the view follows) sits at column 0 of ``line``.
                self.selection = Selection((end_row, len(self.document.get_line(end_row))), (row, 0))
            else:
                self.move_cursor((row, 0))
            self.reveal_line(row)
            # Again after the next refresh: a view shown a moment ago gets its real size only then.
            self.call_after_refresh(self.reveal_line, row)

    def reveal_line(self, row: int) -> None:
        """Scroll so ``row`` (0-based) is in the middle of the view and the line starts show."""
        height = self.scrollable_content_region.height
        self.scroll_to(x=0, y=max(0, row - height // 2), animate=False, immediate=True)

    def cursor_target(self) -> tuple[int, int | None, int]:
        """``(line, end_line, col)``: 1-based lines of the cursor or selection, 0-based column."""
        start, end = sorted((self.selection.start, self.selection.end))
        if start == end:
            return start[0] + 1, None, start[1]
        return start[0] + 1, end[0] + 1, end[1]

    def show_suggestion(self, suggestion: CompletionSuggestion) -> None:
        """Display a completion at the cursor as a ghost-text suggestion."""
        self.pending = suggestion
        self.move_cursor((suggestion.line - 1, suggestion.col))
        first, *rest = suggestion.text.split("\n")
        self.suggestion = first
        more = f" · +{len(rest)} lines" if rest else ""
        self.border_subtitle = f"Tab accept · Esc dismiss{more}"

    def dismiss(self) -> None:
        self.pending = None
        self.suggestion = ""
        self.border_subtitle = ""

    def action_accept_suggestion(self) -> None:
        if self.pending is None:
            raise SkipAction()
        suggestion = self.pending
        self.dismiss()
        self.post_message(self.SuggestionAccepted(suggestion))

    def action_dismiss_suggestion(self) -> None:
        if self.pending is None:
            raise SkipAction()
        self.dismiss()
