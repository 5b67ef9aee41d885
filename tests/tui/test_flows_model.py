"""The flows that generate text, with the real embedded model (SmolLM2-135M, short generations).

The 135M model's answers are toy-level; these tests check what the app owes the
user whatever the model says: tokens stream into the chat while the UI keeps
answering keys, the answer is saved with its sources, Esc stops it, and every
patch candidate is shown with the verdict the validators gave it.  Waits are on
state (``settle`` until the message a test asserts on has arrived), never on time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from base.config import Settings
from tests.tui.conftest import tui_settings
from tests.tui.helpers import settle
from tui import messages as m
from tui.app import AssistantApp, make_app
from tui.screens.patch_review import PatchReviewScreen
from tui.widgets.code_view import CodeView
from tui.widgets.conversation import AssistantMessage, LocationList
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _app(repo: Path, backend: object, settings: Settings | None = None) -> AssistantApp:
    return make_app(repo, settings or tui_settings(), backend=backend, cursor_blink=False)


async def test_question_gets_a_streamed_answer_with_sources(repo: Path, real_backend: object) -> None:
    seen: list[object] = []
    app = _app(repo, real_backend)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        status = app.query_one(StatusBar)
        assert status.device == "cpu"
        app.query_one(PromptInput).value = "where is the price of an order computed?"
        await pilot.press("enter")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the answer")
        chunks = [s for s in seen if isinstance(s, m.AnswerChunk)]
        done = next(s for s in seen if isinstance(s, m.AnswerDone))
        assert len(chunks) > 3 and not done.cancelled
        assert "".join(c.text for c in chunks) == done.turn.content
        built = next(s for s in seen if isinstance(s, m.ContextBuilt)).context
        assert built.tokens_used <= built.budget
        assert any(item.path == "shopcore/pricing/calculator.py" for item in built.items)
        answer = app.query_one(AssistantMessage)
        assert answer.markdown.source.strip() == done.turn.content.strip()
        sources = answer.query_one(LocationList)
        assert sources.locations and all((repo / c.path).is_file() for c in sources.locations)
        assert status.speed and status.speed > 0


async def test_ui_responds_while_the_model_streams_and_escape_stops_it(repo: Path, real_backend: object) -> None:
    settings = tui_settings()
    settings.model.max_new_tokens = 200
    first_chunk = asyncio.Event()
    seen: list[object] = []

    def hook(message: object) -> None:
        seen.append(message)
        if isinstance(message, m.AnswerChunk):
            first_chunk.set()

    app = _app(repo, real_backend, settings)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "explain how orders are priced, step by step"
        await pilot.press("enter")
        await asyncio.wait_for(first_chunk.wait(), timeout=120)
        assert app.busy
        # The UI answers keys while tokens arrive: toggle a pane, open the help and close it.
        context = app.query_one("#context")
        await pilot.press("f4")
        assert not context.display
        await pilot.press("f4")
        assert context.display and app.busy
        # A next question typed while the answer streams is not lost: it waits in the prompt.
        app.query_one(PromptInput).value = "and how are discounts applied?"
        await pilot.press("enter")
        assert app.query_one(PromptInput).value == "and how are discounts applied?" and app.busy
        await pilot.press("escape")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the stopped answer")
        done = next(s for s in seen if isinstance(s, m.AnswerDone))
        assert done.cancelled
        assert len(done.turn.content) > 0
        assert len([s for s in seen if isinstance(s, m.AnswerChunk)]) < 200
        assert not app.busy
        assert app.session.turns[-1].content == done.turn.content  # what streamed is saved
        assert app.query_one(PromptInput).value == "and how are discounts applied?"


async def test_explain_a_symbol(repo: Path, real_backend: object) -> None:
    seen: list[object] = []
    app = _app(repo, real_backend)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "/explain compute_order_total"
        await pilot.press("enter")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the explanation")
        done = next(s for s in seen if isinstance(s, m.AnswerDone))
        assert done.turn.kind == "explain" and done.turn.content.strip()
        assert app.session.turns[-2].content == "/explain compute_order_total"


async def test_complete_at_the_cursor(repo: Path, real_backend: object) -> None:
    seen: list[object] = []
    app = _app(repo, real_backend)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/money.py", 1)
        code = app.query_one(CodeView)
        code.move_cursor((code.document.line_count - 1, 0))
        await pilot.press("f7")
        await settle(pilot, lambda: any(isinstance(s, m.CompletionReady) for s in seen), "the completion")
        ready = next(s for s in seen if isinstance(s, m.CompletionReady)).suggestion
        assert ready.mode in ("fim", "prefix-only")
        if ready.text.strip():
            assert code.pending == ready
            await pilot.press("tab")
            await settle(pilot)
            assert ready.text in (repo / "shopcore/pricing/money.py").read_text(encoding="utf-8")
        else:
            assert any("nothing to add" in str(n.message) for n in app._notifications)


async def test_patch_candidates_are_reviewed_with_their_verdicts(repo: Path, real_backend: object) -> None:
    settings = tui_settings()
    settings.model.max_new_tokens = 48
    settings.retrieval.budget = 3_000  # room for the localized file in the patch prompt
    seen: list[object] = []
    app = _app(repo, real_backend, settings)
    before = {p: p.read_bytes() for p in (repo / "shopcore").rglob("*.py")}
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app.query_one(PromptInput).value = "/patch @ISSUES/001-*.md"
        await pilot.press("enter")
        await settle(pilot, lambda: any(isinstance(s, m.PatchReady) for s in seen), "the patch review")
        ready = next(s for s in seen if isinstance(s, m.PatchReady))
        assert isinstance(app.screen, PatchReviewScreen)
        for candidate in ready.report.candidates:
            assert candidate.verdict in ("tests-pass", "lint-clean", "applies", "rejected")
            assert candidate.reasons  # every verdict says why
        await pilot.press("r")
    assert {p: p.read_bytes() for p in (repo / "shopcore").rglob("*.py")} == before
