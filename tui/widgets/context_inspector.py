"""What the model sees: the context items with their reasons, the budget, pins and drops.

Users of every assistant ask why a snippet is (or is not) in the context; this
pane answers it for every request: included items in prompt order, tokens used
against the budget, the pinned files and where each pin came from, and the
candidates dropped for the budget with their scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, ProgressBar

from assistant.pinning import Pin
from tui.widgets.conversation import OpenLocation


class ContextInspector(Vertical):
    """Header with the budget, a pins line, and a table of items and dropped candidates."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Context"
        self._rows: list[tuple[str, int, int]] = []

    def compose(self) -> ComposeResult:
        yield Label("no request yet: ask a question to see what the model sees", id="context-summary")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="context-budget")
        yield Label("pinned: none  (/add PATH, @file)", id="context-pins")
        table: DataTable[str] = DataTable(id="context-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("", "location", "tokens", "why")
        yield table

    def show(self, context: Any) -> None:
        """Render a ``BuiltContext``."""
        items = list(getattr(context, "items", []))
        dropped = list(getattr(context, "dropped", []))
        used = int(getattr(context, "tokens_used", 0))
        budget = int(getattr(context, "budget", 0)) or 1
        self.query_one("#context-summary", Label).update(
            f"{used:,} / {budget:,} tokens · {len(items)} items · {len(dropped)} dropped"
        )
        bar = self.query_one("#context-budget", ProgressBar)
        bar.update(total=budget, progress=min(used, budget))
        table = self.query_one("#context-table", DataTable)
        table.clear()
        self._rows = []
        for item in items:
            self._add_row(table, "✓", item)
        for item in dropped:
            self._add_row(table, "✗", item)

    def _add_row(self, table: DataTable[str], mark: str, item: Any) -> None:
        path = str(getattr(item, "path", ""))
        start = int(getattr(item, "start_line", 0) or 0)
        end = int(getattr(item, "end_line", start) or start)
        short = "/".join(path.split("/")[-2:]) if path else "repo map"
        where = f"{short}:{start}-{end}" if start else short
        reason = str(getattr(item, "reason", "") or getattr(item, "kind", ""))
        tokens = int(getattr(item, "tokens", 0) or 0)
        if mark == "✗":
            score = getattr(item, "score", None)
            reason = f"dropped: {reason}" + (f" ({float(score):.2f})" if score is not None else "")
        table.add_row(mark, where, f"{tokens:,}", reason)
        self._rows.append((path, start or 1, end or start or 1))

    def show_pins(self, pins: Sequence[Pin]) -> None:
        label = self.query_one("#context-pins", Label)
        if not pins:
            label.update("pinned: none  (/add PATH, @file)")
            return
        shown = ", ".join(f"{p.path.rsplit('/', 1)[-1]} ({p.source})" for p in pins)
        label.update(f"pinned: {shown}")

    def clear(self) -> None:
        self.query_one("#context-summary", Label).update("new chat: ask a question to see what the model sees")
        self.query_one("#context-budget", ProgressBar).update(total=1, progress=0)
        self.query_one("#context-table", DataTable).clear()
        self._rows = []

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        index = event.cursor_row
        if 0 <= index < len(self._rows) and self._rows[index][0]:  # the repo map has no file
            path, start, end = self._rows[index]
            self.post_message(OpenLocation(path, start, end))
