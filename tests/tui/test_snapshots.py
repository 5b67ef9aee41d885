"""Screenshots of the main screen, the context inspector, the diff view and the help.

Deterministic on purpose: a scripted model (fixed text and timings), a fixed
terminal size, no cursor blink, and an index of the same sample repository.
Review the report (``pytest --snapshot-report``) before ``--snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import tui_settings
from tests.tui.fakes import ScriptedBackend
from tests.tui.scripts import reply
from tui.app import AssistantApp, make_app
from tui.widgets.prompt import PromptInput

QUESTION = "where is the price of an order computed?"


def _app(repo: Path) -> AssistantApp:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200  # room for the whole scripted edit
    return make_app(repo, settings, backend=ScriptedBackend(reply), preload_model=False, cursor_blink=False)


async def _ask(pilot: Any, text: str = QUESTION) -> None:
    app = pilot.app
    await app.workers.wait_for_complete()
    app.query_one(PromptInput).value = text
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen_after_an_answer(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot)
        pilot.app._open("shopcore/pricing/calculator.py", 60)
        await pilot.pause()

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
        await pilot.pause()

    assert snap_compare(_app(repo), terminal_size=(120, 36), run_before=run_before)


def test_patch_diff_view(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _ask(pilot, "/patch @ISSUES/001-*.md")

    assert snap_compare(_app(repo), terminal_size=(120, 36), run_before=run_before)


def test_help(repo: Path, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(_app(repo), terminal_size=(110, 40), run_before=run_before)


@pytest.fixture(autouse=True)
def _no_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts time out on a clock: keep them out of screenshots."""
    monkeypatch.setattr(AssistantApp, "notify", lambda self, *args, **kwargs: None)
