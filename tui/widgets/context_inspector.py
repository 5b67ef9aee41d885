"""What the model sees: the context items with their reasons, the budget, pins and drops.

Users of every assistant ask why a snippet is (or is not) in the context; this
pane answers it for every request: included items in prompt order, tokens used
against the budget, the pinned files and where each pin came from, and the
candidates dropped for the budget with their scores.  After ``/complete`` (F7)
it shows what the completion's prompt held instead.

The table's column widths are computed here from the pane's width, never left
to the DataTable's auto-sizing: that happens when the table is next idle, so a
screenshot taken on a busy machine could show header-wide columns, and it gave
the "why" column no more than its header's three characters anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, ProgressBar

from assistant.pinning import Pin
from tui.widgets.conversation import OpenLocation

HEADERS = ("", "location", "tokens", "why")
MARK_WIDTH = 1
TOKENS_WIDTH = 6
LOCATION_WIDTH = (18, 34)  # the location column's least and most width
WHY_MIN = 8
SCROLLBAR = 1  # the table's vertical scrollbar (app.tcss)

Row = tuple[str, str, str, str]


def fit(text: str, width: int, *, keep_end: bool = False) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (at the start when the end matters, as in paths)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return "…" + text[-(width - 1):] if keep_end else text[: width - 1] + "…"


def column_widths(table_width: int, rows: Sequence[Row], padding: int = 1) -> tuple[int, int, int, int]:
    """Widths of mark, location, tokens and why for a table ``table_width`` cells wide.

    The location gets what its longest entry needs, within ``LOCATION_WIDTH`` and two
    fifths of the room (the least still shows a file name and its lines); tokens a fixed
    width; the reason everything left.
    """
    room = max(0, table_width - SCROLLBAR - 2 * padding * len(HEADERS))
    longest = max((len(row[1]) for row in rows), default=len(HEADERS[1]))
    least, most = LOCATION_WIDTH
    least = min(least, room - MARK_WIDTH - TOKENS_WIDTH - WHY_MIN)  # a narrow pane: no sideways scrolling
    location = max(1, min(longest, max(least, min(most, room * 2 // 5))))
    why = max(WHY_MIN, room - MARK_WIDTH - TOKENS_WIDTH - location)
    return MARK_WIDTH, location, TOKENS_WIDTH, why


def parse_source(label: str) -> tuple[str, int, int]:
    """``path:start-end`` (a completion's source label) as ``(path, start, end)``."""
    path, _, lines = label.rpartition(":")
    start, _, end = lines.partition("-")
    if not path or not start.isdigit():
        return label, 1, 1
    return path, int(start), int(end) if end.isdigit() else int(start)


class ContextInspector(Vertical):
    """Header with the budget, a pins line, and a table of items and dropped candidates."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Context"
        self._rows: list[tuple[str, int, int]] = []  # what Enter opens, per table row
        self._cells: list[Row] = []
        self._widths: tuple[int, int, int, int] | None = None

    def compose(self) -> ComposeResult:
        yield Label("no request yet: ask a question to see what the model sees", id="context-summary")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="context-budget")
        yield Label("pinned: none  (/add PATH, @file)", id="context-pins")
        yield DataTable(id="context-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        self._render_table()

    def on_resize(self, event: events.Resize) -> None:
        self._render_table()

    def _table_width(self) -> int:
        """The table spans the pane's content width (before the first layout: a narrow default)."""
        return self.content_size.width or 40

    def _render_table(self) -> None:
        """(Re)build the columns for the current width and fill in the rows, cut to fit."""
        table = self.query_one("#context-table", DataTable)
        widths = column_widths(self._table_width(), self._cells, table.cell_padding)
        if widths != self._widths:
            self._widths = widths
            table.clear(columns=True)
            for header, width in zip(HEADERS, widths, strict=True):
                table.add_column(header, width=width)
        else:
            table.clear()
        for mark, where, tokens, why in self._cells:
            table.add_row(mark, fit(where, widths[1], keep_end=True), fit(tokens, widths[2]), fit(why, widths[3]))

    def _summary(self, text: str, used: int, budget: int) -> None:
        self.query_one("#context-summary", Label).update(text)
        self.query_one("#context-budget", ProgressBar).update(total=budget or 1, progress=min(used, budget or 1))

    def show(self, context: Any, *, request: str = "") -> None:
        """Render a ``BuiltContext`` (``request`` names what it was built for, when not a chat turn)."""
        items = list(getattr(context, "items", []))
        dropped = list(getattr(context, "dropped", []))
        used = int(getattr(context, "tokens_used", 0))
        budget = int(getattr(context, "budget", 0))
        prefix = f"{request} · " if request else ""
        self._summary(f"{prefix}{used:,} / {budget:,} tokens · {len(items)} items · {len(dropped)} dropped",
                      used, budget)
        self._rows, self._cells = [], []
        for item in items:
            self._add_item("✓", item)
        for item in dropped:
            self._add_item("✗", item)
        self._render_table()

    def show_completion(self, suggestion: Any) -> None:
        """Render what a completion's prompt held: its retrieved context, or just the code around the cursor."""
        built = getattr(suggestion, "context", None)
        if built is not None and hasattr(built, "items"):
            self.show(built, request="completion")
            return
        path = str(getattr(suggestion, "path", ""))
        line = int(getattr(suggestion, "line", 1) or 1)
        self._summary(f"completion · {getattr(suggestion, 'mode', '')}: the code around the cursor only "
                      "(no retrieved context)", 0, 0)
        self._rows, self._cells = [], []
        self._add_row("✓", path, line, line, "", "the code around the cursor (prefix and suffix)")
        for source in getattr(suggestion, "sources", ()):
            where, start, end = parse_source(str(source))
            self._add_row("✓", where, start, end, "", "retrieved for the completion")
        self._render_table()

    def _add_item(self, mark: str, item: Any) -> None:
        path = str(getattr(item, "path", ""))
        start = int(getattr(item, "start_line", 0) or 0)
        end = int(getattr(item, "end_line", start) or start)
        reason = str(getattr(item, "reason", "") or getattr(item, "kind", ""))
        tokens = int(getattr(item, "tokens", 0) or 0)
        if mark == "✗":
            score = getattr(item, "score", None)
            reason = f"dropped: {reason}" + (f" ({float(score):.2f})" if score is not None else "")
        kind = str(getattr(item, "kind", ""))
        self._add_row(mark, path, start, end, f"{tokens:,}", reason, "project rules" if kind == "rules" else "")

    def _add_row(self, mark: str, path: str, start: int, end: int, tokens: str, reason: str,
                 name: str = "") -> None:
        short = "/".join(path.split("/")[-2:]) if path else (name or "repo map")
        where = f"{short}:{start}-{end}" if start else short
        self._cells.append((mark, where, tokens, reason))
        self._rows.append((path, start or 1, end or start or 1))

    def show_pins(self, pins: Sequence[Pin]) -> None:
        label = self.query_one("#context-pins", Label)
        if not pins:
            label.update("pinned: none  (/add PATH, @file)")
            return
        shown = ", ".join(f"{p.path.rsplit('/', 1)[-1]} ({p.source})" for p in pins)
        label.update(f"pinned: {shown}")

    def clear(self) -> None:
        self._summary("new chat: ask a question to see what the model sees", 0, 0)
        self._rows, self._cells = [], []
        self._render_table()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        index = event.cursor_row
        if 0 <= index < len(self._rows) and self._rows[index][0]:  # the repo map has no file
            path, start, end = self._rows[index]
            self.post_message(OpenLocation(path, start, end))
