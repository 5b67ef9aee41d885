"""The ``@`` file picker: type a few letters of a path, Enter picks the best match."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from assistant.chat import fuzzy_filter


class FilePicker(ModalScreen[str | None]):
    """Fuzzy-filters the repository's files; dismisses with the chosen path or ``None``."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker-cancel"),
        Binding("down", "move(1)", "Down", show=False, priority=True),
        Binding("up", "move(-1)", "Up", show=False, priority=True),
    ]

    def __init__(self, files: list[str], query: str = "", *, title: str = "Pick a file") -> None:
        super().__init__(classes="modal")
        self.files = files
        self.initial = query
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="dialog"):
            yield Label(self.title_text, id="picker-title")
            yield Input(self.initial, placeholder="type part of a path…", id="picker-input")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._refilter(self.initial)
        self.query_one("#picker-input", Input).focus()

    @on(Input.Changed, "#picker-input")
    def _changed(self, event: Input.Changed) -> None:
        self._refilter(event.value)

    def _refilter(self, query: str) -> None:
        options = self.query_one("#picker-options", OptionList)
        options.clear_options()
        matches = fuzzy_filter(query, self.files, limit=200)
        options.add_options([Option(path, id=path) for path in matches])
        if matches:
            options.highlighted = 0

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    @on(Input.Submitted, "#picker-input")
    def _submitted(self) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.highlighted is None:
            self.app.bell()
            return
        option = options.get_option_at_index(options.highlighted)
        self.dismiss(option.id)

    @on(OptionList.OptionSelected, "#picker-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
