"""Screenshots of the main screen, the context inspector, the diff view and the help.

Deterministic on purpose: a scripted model (fixed text and timings), a fixed
terminal size, no cursor blink, an index of the same sample repository, column
widths the app computes itself, and waits on state (``settle``), never on time:
a loaded machine only makes a run slower, not different.
Review the report (``pytest --snapshot-report``) before ``--snapshot-update``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assistant.session import Session
from tests.tui.conftest import tui_settings
from tests.tui.fakes import ScriptedBackend
from tests.tui.helpers import settle
from tests.tui.scripts import reply
from tui.app import AssistantApp, make_app
from tui.screens.help import HelpScreen
from tui.screens.patch_review import PatchReviewScreen
from tui.widgets.code_view import CodeView
from tui.widgets.prompt import PromptInput

QUESTION = "where is the price of an order computed?"


def _app(repo: Path) -> AssistantApp:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200  # room for the whole scripted edit
    return make_app(repo, settings, backend=ScriptedBackend(reply), preload_model=False, cursor_blink=False)


async def _ask(pilot: Any, text: str = QUESTION) -> None:
    """Send ``text`` and wait until the app has finished with it (answer, context and sources shown)."""
    app = pilot.app
    await settle(pilot)
    app.query_one(PromptInput).value = text
    await pilot.press("enter")
    await settle(pilot, lambda: not app.busy, f"{text!r} to finish")


def test_main_screen_after_an_answer(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot)
        pilot.app._open("shopcore/pricing/calculator.py", 60)
        code = pilot.app.query_one(CodeView)
        await settle(pilot, lambda: code.scroll_y > 0, "the code view at line 60")

    assert snap_compare(_app(repo), terminal_size=(120, 36), run_before=run_before)


def test_main_screen_at_80x24(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot)

    assert snap_compare(_app(repo), terminal_size=(80, 24), run_before=run_before)


def test_context_inspector(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot, "/add tax.py")
        await _ask(pilot)
        await pilot.press("f3")  # hide the code view: the chat column takes the width
        pilot.app.query_one("#context").styles.height = 16
        pilot.app.query_one("#context-table").focus()
        await settle(pilot)

    assert snap_compare(_app(repo), terminal_size=(120, 36), run_before=run_before)


def test_patch_diff_view(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot, "/patch @ISSUES/001-*.md")
        await settle(pilot, lambda: isinstance(pilot.app.screen, PatchReviewScreen), "the patch review")

    assert snap_compare(_app(repo), terminal_size=(120, 36), run_before=run_before)


def test_help(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")

    assert snap_compare(_app(repo), terminal_size=(110, 40), run_before=run_before)


@pytest.fixture(autouse=True)
def _no_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts time out on a clock: keep them out of screenshots."""
    monkeypatch.setattr(AssistantApp, "notify", lambda self, *args, **kwargs: None)


@pytest.fixture(autouse=True)
def _fixed_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate's verdict says how long its tests ran (a clock reading): show a fixed one."""
    propose = Session.propose_patch

    def proposed_with_fixed_durations(self: Session, *args: Any, **kwargs: Any) -> Any:
        report = propose(self, *args, **kwargs)
        for candidate in getattr(report, "candidates", []):
            candidate.reasons = [re.sub(r"\b\d+\.\d+s\b", "1.0s", reason) for reason in candidate.reasons]
        return report

    monkeypatch.setattr(Session, "propose_patch", proposed_with_fixed_durations)
