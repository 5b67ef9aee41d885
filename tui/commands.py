"""The command palette (Ctrl+P): every action of the app, found by fuzzy search.

Commands that need text (search, model, patch) put the slash command in the
prompt and focus it; the others run at once.  Commands that cannot apply right
now (cancel with nothing running, undo with nothing applied) are not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import AssistantApp


@dataclass(frozen=True)
class PaletteCommand:
    name: str
    help: str
    action: str  # an app action, e.g. "reindex" or "prefill('/search ')"


PALETTE_COMMANDS: tuple[PaletteCommand, ...] = (
    PaletteCommand("Ask a question", "Focus the prompt", "focus_prompt"),
    PaletteCommand("Explain code at cursor", "/explain the code view's cursor or selection", "explain"),
    PaletteCommand("Explain a symbol…", "/explain SYMBOL", "prefill('/explain ')"),
    PaletteCommand("Complete at cursor", "/complete: inline suggestion, Tab accepts", "complete"),
    PaletteCommand("Propose a patch…", "/patch ISSUE-TEXT or @file.md", "prefill('/patch @')"),
    PaletteCommand("Search the repository…", "/search QUERY", "prefill('/search ')"),
    PaletteCommand("Open a file…", "Fuzzy file picker", "open_file"),
    PaletteCommand("Pin a file…", "/add PATH", "pin_file"),
    PaletteCommand("Re-index the repository", "/index in the background", "reindex"),
    PaletteCommand("Switch model…", "/model NAME", "prefill('/model ')"),
    PaletteCommand("Undo the last patch", "/undo", "undo"),
    PaletteCommand("New chat", "/clear: start clean (this one stays saved)", "new_chat"),
    PaletteCommand("Resume last chat", "/resume", "resume"),
    PaletteCommand("Cancel generation", "Stop the model (Esc)", "cancel"),
    PaletteCommand("Toggle file tree", "Show or hide the files", "toggle_pane('tree')"),
    PaletteCommand("Toggle code view", "Show or hide the code", "toggle_pane('code')"),
    PaletteCommand("Toggle context inspector", "Show or hide what the model sees", "toggle_pane('context')"),
    PaletteCommand("Help", "Keys and commands", "help"),
)


class AssistantCommands(Provider):
    """Offers :data:`PALETTE_COMMANDS` that apply in the app's current state."""

    def _available(self) -> list[PaletteCommand]:
        app = cast("AssistantApp", self.app)
        return [c for c in PALETTE_COMMANDS if app.command_available(c.action)]

    def _runner(self, action: str) -> Callable[[], object]:
        async def run() -> None:
            await self.app.run_action(action)

        return run

    async def discover(self) -> Hits:
        for command in self._available():
            yield DiscoveryHit(command.name, self._runner(command.action), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._available():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), self._runner(command.action), help=command.help)
