"""The app shell without an index or a model: layout, panes, keys, help, palette, errors.

No sleeps: every wait is on state (``settle``: workers done, queued messages
handled, then the condition the test asserts).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from assistant.session import Session
from base.config import Settings
from tests.tui.conftest import tui_settings
from tests.tui.fakes import ScriptedBackend
from tests.tui.helpers import settle, widget_text
from tui import messages as m
from tui.app import AssistantApp, make_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.file_picker import FilePicker
from tui.screens.help import HelpScreen
from tui.widgets.code_view import CodeView
from tui.widgets.context_inspector import ContextInspector
from tui.widgets.file_tree import FileTree
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.anyio

def _app(repo: Path, settings: Settings | None = None, **kwargs: object) -> AssistantApp:
    settings = settings or tui_settings()
    kwargs.setdefault("preload_model", False)
    return make_app(repo, settings, backend=ScriptedBackend(), cursor_blink=False, **kwargs)  # type: ignore[arg-type]


async def test_unindexed_repo_offers_to_index_and_later_is_remembered(sample_repo_copy: Path) -> None:
    seen: list[object] = []
    app = _app(sample_repo_copy)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the Index now? dialog")
        assert "has no index yet" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        status = app.query_one(StatusBar)
        assert status.index_label == "no index"
        assert any(isinstance(s, m.IndexStateChanged) and s.state.status == "missing" for s in seen)
        assert any("F5" in str(n.message) for n in app._notifications)


async def test_index_now_dialog_shows_its_whole_text_at_80x24(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the Index now? dialog")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        question = dialog.query_one("#confirm-question")
        detail = dialog.query_one("#confirm-detail")
        assert widget_text(question) == dialog.question
        assert widget_text(detail) == dialog.detail  # wrapped, not cut at "(F5 or /inde"
        box = dialog.query_one("#confirm-box").region
        for part in (question, detail, dialog.query_one("#yes"), dialog.query_one("#no")):
            assert box.contains_region(part.region), part


async def test_file_tree_lists_what_the_indexer_walks(sample_repo_copy: Path) -> None:
    (sample_repo_copy / "node_modules" / "pkg").mkdir(parents=True)
    (sample_repo_copy / "node_modules" / "pkg" / "index.js").write_text("x = 1\n", encoding="utf-8")
    (sample_repo_copy / ".gitignore").write_text("ignored_dir/\n", encoding="utf-8")
    (sample_repo_copy / "ignored_dir").mkdir()
    (sample_repo_copy / "ignored_dir" / "a.py").write_text("a = 1\n", encoding="utf-8")
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "shopcore/pricing/calculator.py" in app.files
        assert not any(f.startswith(("node_modules/", "ignored_dir/", ".git/")) for f in app.files)
        tree = app.query_one(FileTree)
        assert tree.display
        labels = [str(node.label) for node in tree.root.children]
        assert "shopcore/" in labels and "node_modules/" not in labels


async def test_open_file_from_picker_shows_highlighted_code_at_cursor(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, FilePicker)
        await pilot.press(*"calcul", "enter")
        await settle(pilot)
        code = app.query_one(CodeView)
        assert code.path == "shopcore/pricing/calculator.py"
        assert code.language == "python"
        assert code.read_only and code.show_line_numbers
        assert code.text == (sample_repo_copy / "shopcore/pricing/calculator.py").read_text(encoding="utf-8")
        await pilot.press("down", "down", "shift+down")
        line, end_line, _col = code.cursor_target()
        assert (line, end_line) == (3, 4)


async def test_panes_toggle_and_resize_and_fit_80x24(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.query_one("#tree")
        assert not tree.display  # narrow terminal: the tree starts hidden
        for widget in ("#code", "#conversation", "#context", "#prompt", "#status"):
            region = app.query_one(widget).region
            assert region.width > 0 and region.bottom <= 24, widget
        await pilot.press("f2")
        assert tree.display
        await pilot.press("f4")
        assert not app.query_one("#context").display
        await pilot.press("f4", "f3")
        assert app.query_one("#context").display and not app.query_one("#code").display
        await pilot.press("f3")
        before = app.query_one("#chat-column").region.width
        await pilot.press("alt+right")
        await settle(pilot)
        assert app.query_one("#chat-column").region.width > before


async def test_help_lists_commands_and_keys(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        from tui.screens.help import help_markdown

        text = help_markdown(app.screen.keys)
        for command in ("/explain", "/complete", "/patch", "/search", "/add", "/drop", "/index", "/model",
                        "/undo", "/clear", "/help"):
            assert command in text
        assert "f5" in text and "ctrl+p" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        app.query_one(PromptInput).value = "/help"
        await pilot.press("enter")
        assert isinstance(app.screen, HelpScreen)


async def test_slash_completion_and_history(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        prompt = app.query_one(PromptInput)
        await pilot.press("/", "e", "x")
        await settle(pilot)
        await pilot.press("tab")
        assert prompt.value == "/explain "
        prompt.value = ""
        await pilot.press("/", "f", "o", "o", "enter")
        await settle(pilot)
        assert any("unknown command /foo" in str(n.title) for n in app._notifications)
        prompt.value = "/add calculator.py"
        await pilot.press("enter")
        await pilot.press("up")
        assert prompt.value == "/add calculator.py"


async def test_pins_add_drop_and_mention_picker(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        prompt = app.query_one(PromptInput)
        prompt.value = "/add calculator.py"
        await pilot.press("enter")
        assert app.session.pins.paths() == ["shopcore/pricing/calculator.py"]
        pins_label = str(app.query_one("#context-pins").render())
        assert "calculator.py (manual)" in pins_label
        prompt.value = "/add nope.py"
        await pilot.press("enter")
        assert any("no file 'nope.py'" in str(n.title) for n in app._notifications)
        prompt.value = "/drop calculator.py"
        await pilot.press("enter")
        assert app.session.pins.paths() == []
        prompt.value = "what does "
        prompt.cursor_position = len(prompt.value)
        await pilot.press("@")
        await settle(pilot)
        assert isinstance(app.screen, FilePicker)
        await pilot.press(*"models/order", "enter")
        await settle(pilot)
        assert prompt.value == "what does @shopcore/models/order.py "
        assert app.session.pins.paths() == ["shopcore/models/order.py"]


async def test_model_that_cannot_load_is_a_notification_not_a_crash(sample_repo_copy: Path) -> None:
    settings = tui_settings()
    app = make_app(sample_repo_copy, settings, offer_index=False, preload_model=False, cursor_blink=False)
    seen: list[object] = []
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "/model /nonexistent/model-dir"
        await pilot.press("enter")
        await settle(pilot)
        failures = [s for s in seen if isinstance(s, m.WorkFailed)]
        assert failures and failures[0].group == "model"
        assert "/nonexistent/model-dir" in failures[0].message
        assert app.query_one(StatusBar).model == settings.model.name  # the old model stays
        assert app.is_running


async def test_question_without_index_explains_the_fix(sample_repo_copy: Path) -> None:
    seen: list[object] = []
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "where is the price computed?"
        await pilot.press("enter")
        await settle(pilot)
        failures = [s for s in seen if isinstance(s, m.WorkFailed)]
        assert failures and "repo-assistant index" in failures[0].message
        assert not app.busy


async def test_unexpected_worker_error_is_reported_and_the_app_survives(sample_repo_copy: Path) -> None:
    class BrokenSession(Session):
        def search(self, query: str, k: int = 20) -> list[object]:
            raise RuntimeError("disk on fire")

    session = BrokenSession(sample_repo_copy, tui_settings(), backend=ScriptedBackend())
    app = AssistantApp(session, tui_settings(), offer_index=False, preload_model=False, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "/search price"
        await pilot.press("enter")
        await settle(pilot)
        assert any("disk on fire" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_palette_offers_actions_that_apply(sample_repo_copy: Path) -> None:
    app = _app(sample_repo_copy, offer_index=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert not app.command_available("explain")  # no file open yet
        assert not app.command_available("cancel")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"search the rep", "enter")
        await settle(pilot)
        assert app.query_one(PromptInput).value == "/search "
        assert isinstance(app.query_one(ContextInspector).query_one(DataTable), DataTable)
