"""One line at the bottom: model and device, index state or indexing progress, last speed, activity."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar


class StatusBar(Horizontal):
    """Model · device │ index │ tokens/s │ what is running."""

    model: reactive[str] = reactive("", layout=True)
    device: reactive[str] = reactive("-")
    index_label: reactive[str] = reactive("index: checking…")
    index_level: reactive[str] = reactive("info")
    speed: reactive[float | None] = reactive(None)
    activity: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        yield Label(id="status-model")
        yield Label(id="status-index")
        yield ProgressBar(total=100, show_eta=False, id="status-progress")
        yield Label(id="status-speed")
        yield Label(id="status-activity")

    def on_mount(self) -> None:
        self.query_one("#status-progress").display = False
        self._refresh_labels()

    def _refresh_labels(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#status-model", Label).update(f"{self.model} · {self.device}")
        index = self.query_one("#status-index", Label)
        index.update(self.index_label)
        index.set_classes(f"-{self.index_level}")
        speed = f"{self.speed:.1f} tok/s" if self.speed else "– tok/s"
        self.query_one("#status-speed", Label).update(speed)
        self.query_one("#status-activity", Label).update(self.activity)

    def watch_model(self) -> None:
        self._refresh_labels()

    def watch_device(self) -> None:
        self._refresh_labels()

    def watch_index_label(self) -> None:
        self._refresh_labels()

    def watch_index_level(self) -> None:
        self._refresh_labels()

    def watch_speed(self) -> None:
        self._refresh_labels()

    def watch_activity(self) -> None:
        self._refresh_labels()

    def show_progress(self, fraction: float | None, phase: str) -> None:
        """Indexing x%: a progress bar (indeterminate when the total is unknown)."""
        bar = self.query_one("#status-progress", ProgressBar)
        bar.display = True
        if fraction is None:
            bar.update(total=None)
            self.index_label = f"indexing: {phase}"
        else:
            bar.update(total=100, progress=round(fraction * 100))
            self.index_label = f"indexing {round(fraction * 100)}% {phase}".rstrip()
        self.index_level = "busy"

    def hide_progress(self) -> None:
        self.query_one("#status-progress", ProgressBar).display = False
