"""Every flow of the app on an indexed sample repository, with a scripted model.

These pin down the message flow and the screen state deterministically; the same
flows run with the real embedded model in ``test_flows_model.py``.  Every wait is on
state (``settle``: workers done, messages handled, the asserted condition), never on time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import DataTable

from base.config import Settings
from tests.tui.conftest import tui_settings
from tests.tui.fakes import ScriptedBackend
from tests.tui.helpers import screen_text, settle
from tests.tui.scripts import PATCH_REPLY, reply
from tui import messages as m
from tui.app import AssistantApp, make_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.patch_review import PatchReviewScreen
from tui.widgets.code_view import CodeView
from tui.widgets.context_inspector import ContextInspector
from tui.widgets.conversation import AssistantMessage, LocationList, NoteMessage, SearchResults
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.anyio


def _app(repo: Path, settings: Settings | None = None, **kwargs: object) -> AssistantApp:
    return make_app(repo, settings or tui_settings(), backend=ScriptedBackend(reply), preload_model=False,
                    cursor_blink=False, **kwargs)  # type: ignore[arg-type]


async def _send(app: AssistantApp, pilot: object, text: str) -> None:
    app.query_one(PromptInput).value = text
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot, lambda: not app.busy, f"{text!r} to finish")


async def test_question_streams_an_answer_and_shows_the_context(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot, lambda: app.query_one(StatusBar).index_label != "index: checking…")
        assert app.query_one(StatusBar).index_label == "index fresh"
        await _send(app, pilot, "where is the price of an order computed?")
        flow = [type(s) for s in seen if isinstance(s, m.QuestionSubmitted | m.ContextBuilt | m.AnswerChunk
                                                     | m.AnswerDone)]
        assert flow[0] is m.QuestionSubmitted and flow[1] is m.ContextBuilt and flow[-1] is m.AnswerDone
        assert flow.count(m.AnswerChunk) > 5
        built = next(s for s in seen if isinstance(s, m.ContextBuilt)).context
        assert built.items and built.tokens_used <= built.budget
        table = app.query_one("#context-table", DataTable)
        assert table.row_count == len(built.items) + len(built.dropped)
        summary = str(app.query_one("#context-summary").render())
        assert f"{built.tokens_used:,} / {built.budget:,} tokens" in summary
        answer = app.query_one(AssistantMessage)
        assert "compute_order_total" in answer.markdown.source
        sources = answer.query_one(LocationList)
        assert sources.locations[0].path == "shopcore/pricing/calculator.py"
        # The answer cites calculator.py: it is pinned while the conversation uses it.
        assert app.session.pins.get("shopcore/pricing/calculator.py").source == "cited"  # type: ignore[union-attr]
        # Enter on a citation opens the file at those lines.
        sources.focus()
        await pilot.press("enter")
        code = app.query_one(CodeView)
        assert code.path == "shopcore/pricing/calculator.py"
        assert code.cursor_target()[0] == 60
        saved = list((repo / ".repo-assistant" / "sessions").glob("*.json"))
        data = json.loads(saved[0].read_text(encoding="utf-8"))
        assert [t["role"] for t in data["turns"]] == ["user", "assistant"]


async def test_pins_follow_the_conversation(repo: Path) -> None:
    app = _app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _send(app, pilot, "what does order.py define?")
        pin = app.session.pins.get("shopcore/models/order.py")
        assert pin is not None and pin.source == "mentioned"
        assert "pinned shopcore/models/order.py (mentioned)" in " ".join(
            str(n.render()) for n in app.query(NoteMessage))
        for question in ("how is VAT rounded?", "and coupons?", "and the total?", "and the lines?"):
            await _send(app, pilot, question)
        assert app.session.pins.get("shopcore/models/order.py") is None
        notes = " ".join(str(n.render()) for n in app.query(NoteMessage))
        assert "dropped shopcore/models/order.py" in notes
        # calculator.py is cited by every answer: it stays.
        assert app.session.pins.get("shopcore/pricing/calculator.py") is not None
        pins_label = str(app.query_one("#context-pins").render())
        assert "calculator.py (cited)" in pins_label and "order.py" not in pins_label


async def test_search_keeps_typing_in_the_prompt_and_f8_opens_a_hit(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await _send(app, pilot, "/search compute_order_total")
        found = next(s for s in seen if isinstance(s, m.SearchFinished))
        assert found.hits
        results = app.query_one(SearchResults)
        prompt = app.query_one(PromptInput)
        assert app.focused is prompt  # what the user types next is not lost (nor opens a hit)
        await pilot.press(*"next")
        assert prompt.value == "next"
        await pilot.press("f8")
        assert app.focused is results
        await pilot.press("enter")
        await settle(pilot)
        code = app.query_one(CodeView)
        first = found.hits[0]
        assert code.path == first.path
        assert code.cursor_target()[0] == first.start_line


async def test_new_chat_starts_clean_and_resume_brings_it_back(repo: Path) -> None:
    app = _app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _send(app, pilot, "where is the price of an order computed?")
        first_chat = app.session.chat.id
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert not app.query(AssistantMessage)
        assert app.session.turns == [] and app.session.pins.paths() == []
        await _send(app, pilot, "/resume")
        assert app.session.chat.id == first_chat
        assert len(app.query(AssistantMessage)) == 1
    # A new app on the same repository resumes it on request.
    again = _app(repo, resume=True)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert again.session.chat.id == first_chat
        assert "compute_order_total" in again.query_one(AssistantMessage).markdown.source


async def test_explain_the_code_at_the_cursor(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/tax.py", 20)
        await pilot.press("f6")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the explanation")
        done = next(s for s in seen if isinstance(s, m.AnswerDone))
        assert done.turn.kind == "explain"
        user = app.session.turns[-2].content
        assert user.startswith("/explain ")
        built = next(s for s in seen if isinstance(s, m.ContextBuilt)).context
        assert any(item.path == "shopcore/pricing/tax.py" for item in built.items)


async def test_completion_is_shown_inline_and_tab_inserts_it(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    target = repo / "shopcore" / "pricing" / "money.py"
    before = target.read_text(encoding="utf-8")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/money.py", 1)
        code = app.query_one(CodeView)
        code.move_cursor((code.document.line_count - 1, 0))
        await pilot.press("f7")
        await settle(pilot, lambda: any(isinstance(s, m.CompletionReady) for s in seen), "the completion")
        ready = [s for s in seen if isinstance(s, m.CompletionReady)]
        assert ready and ready[0].suggestion.text
        assert app.focused is code and code.suggestion == ready[0].suggestion.text.split("\n")[0]
        await pilot.press("escape")
        assert code.suggestion == "" and target.read_text(encoding="utf-8") == before
        app.query_one(PromptInput).value = "/complete"
        app.query_one(PromptInput).focus()
        await pilot.press("enter")
        await settle(pilot, lambda: code.pending is not None, "the second completion")
        await pilot.press("tab")
        await settle(pilot)
        after = target.read_text(encoding="utf-8")
        assert after != before and ready[0].suggestion.text in after


async def test_patch_review_apply_and_undo(repo: Path) -> None:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200  # room for the whole scripted edit
    seen: list[object] = []
    app = _app(repo, settings)
    calculator = repo / "shopcore" / "pricing" / "calculator.py"
    original = calculator.read_bytes()
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await _send(app, pilot, "/patch @ISSUES/001-*.md")
        assert isinstance(app.screen, PatchReviewScreen)
        candidate = app.screen.candidates[0]
        assert candidate.applicable and candidate.files == ["shopcore/pricing/calculator.py"]
        diff = str(app.screen.query_one("#patch-diff").render())
        assert "deducted_after_tax" in diff
        assert "shopcore/pricing/calculator.py" in app.session.pins.paths()
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: any(isinstance(s, m.PatchApplied | m.WorkFailed) for s in seen), "the patch")
        assert any(isinstance(s, m.PatchApplied) for s in seen)
        assert calculator.read_bytes() != original
        assert b"- deducted_after_tax" not in calculator.read_bytes()
        await _send(app, pilot, "/undo")
        assert any(isinstance(s, m.PatchUndone) for s in seen)
        assert calculator.read_bytes() == original


async def test_patch_reject_changes_nothing(repo: Path) -> None:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200  # room for the whole scripted edit
    app = _app(repo, settings)
    before = (repo / "shopcore" / "pricing" / "calculator.py").read_bytes()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _send(app, pilot, "/patch @ISSUES/001-*.md")
        assert isinstance(app.screen, PatchReviewScreen)
        await pilot.press("r")
        await settle(pilot)
        assert not isinstance(app.screen, PatchReviewScreen)
        assert (repo / "shopcore" / "pricing" / "calculator.py").read_bytes() == before


async def test_dirty_file_asks_before_applying(repo: Path) -> None:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200  # room for the whole scripted edit
    settings.retrieval.budget = 3_000  # room for the whole (locally edited) file in the patch prompt
    app = _app(repo, settings)
    calculator = repo / "shopcore" / "pricing" / "calculator.py"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # Uncommitted work in the file the patch edits (the patch is made on top of it).
        calculator.write_text(calculator.read_text(encoding="utf-8") + "\n# local edit\n", encoding="utf-8")
        dirty = calculator.read_bytes()
        await _send(app, pilot, "/patch @ISSUES/001-*.md")
        await pilot.press("a", "y")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the overwrite question")
        assert isinstance(app.screen, ConfirmScreen) and "uncommitted changes" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert calculator.read_bytes() == dirty


async def test_the_tui_refuses_what_the_cli_refuses_a_file_changed_since_the_patch(repo: Path) -> None:
    """The one apply gate: a file edited after the patch was generated is never overwritten, even when asked."""
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200
    settings.retrieval.budget = 3_000  # room for the whole file in the patch prompt
    seen: list[object] = []
    app = _app(repo, settings)
    calculator = repo / "shopcore" / "pricing" / "calculator.py"
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await _send(app, pilot, "/patch @ISSUES/001-*.md")
        calculator.write_text(calculator.read_text(encoding="utf-8") + "\n# edited meanwhile\n", encoding="utf-8")
        edited = calculator.read_bytes()
        await pilot.press("a", "y")
        await settle(pilot, lambda: any(isinstance(s, m.WorkFailed) for s in seen), "the refusal")
        failure = next(s for s in seen if isinstance(s, m.WorkFailed))
        assert "changed" in failure.message and not isinstance(app.screen, ConfirmScreen)
        assert calculator.read_bytes() == edited


async def test_first_run_indexes_with_progress(sample_repo_copy: Path) -> None:
    settings = tui_settings()
    settings.index.embeddings = False
    seen: list[object] = []
    app = make_app(sample_repo_copy, settings, backend=ScriptedBackend(reply), preload_model=False,
                   cursor_blink=False)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the Index now? dialog")
        await pilot.press("y")
        status = app.query_one(StatusBar)
        await settle(pilot, lambda: not isinstance(app.screen, ConfirmScreen) and not app._indexing
                     and not status.index_label.startswith(("indexing", "index: checking")),
                     "the index run and the state check after it")
        progress = [s.progress for s in seen if isinstance(s, m.IndexProgressed)]
        assert progress and any(p.fraction is not None for p in progress)
        assert any(isinstance(s, m.IndexFinished) for s in seen)
        assert app.query_one(StatusBar).index_label == "index fresh"
        await _send(app, pilot, "where is the price of an order computed?")
        assert any(isinstance(s, m.AnswerDone) for s in seen)


async def test_f6_and_f7_work_with_the_cursor_in_the_code_view(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/tax.py", 20)
        code = app.query_one(CodeView)
        code.focus()
        await settle(pilot, lambda: app.focused is code)
        # The footer offers them here too (the TextArea binds F6/F7 to select line / select all).
        active = app.screen.active_bindings
        assert active["f6"].binding.action == "explain" and active["f7"].binding.action == "complete"
        await pilot.press("f6")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the explanation")
        assert [s.turn.kind for s in seen if isinstance(s, m.AnswerDone)] == ["explain"]
        code.focus()
        code.move_cursor((code.document.line_count - 1, 0))
        await pilot.press("f7")
        await settle(pilot, lambda: any(isinstance(s, m.CompletionReady) for s in seen), "the completion")
        assert code.pending is not None and code.text == (repo / "shopcore/pricing/tax.py").read_text("utf-8")


async def test_a_source_opens_at_column_0_with_its_line_in_view(repo: Path) -> None:
    app = _app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _send(app, pilot, "where is the price of an order computed?")
        await pilot.press("f8")  # the answer's sources
        assert isinstance(app.focused, LocationList)
        location = app.focused.locations[0]
        await pilot.press("enter")
        await settle(pilot)
        code = app.query_one(CodeView)
        assert code.path == location.path and code.cursor_target()[0] == location.start_line
        assert code.scroll_x == 0
        top = int(code.scroll_y)
        assert top <= location.start_line - 1 < top + code.scrollable_content_region.height
        assert f"{location.start_line} " in screen_text(app)  # its line number shows in the gutter


async def test_status_is_rechecked_after_a_write_and_when_the_app_regains_focus(repo: Path) -> None:
    app = _app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.query_one(StatusBar)
        await settle(pilot, lambda: status.index_label != "index: checking…")
        assert status.index_label == "index fresh"
        app._open("shopcore/pricing/money.py", 1)
        code = app.query_one(CodeView)
        code.focus()
        code.move_cursor((code.document.line_count - 1, 0))
        await pilot.press("f7")
        await settle(pilot, lambda: code.pending is not None, "the completion")
        await pilot.press("tab")  # accept: the app writes money.py
        await settle(pilot)
        assert status.index_label == "1 file stale"
        tax = repo / "shopcore" / "pricing" / "tax.py"
        tax.write_text(tax.read_text(encoding="utf-8") + "\n# edited in another window\n", encoding="utf-8")
        app.post_message(events.AppFocus())  # back from the editor
        await settle(pilot)
        assert status.index_label == "2 files stale"


REJECTED_PATCH = PATCH_REPLY.replace("- deducted_after_tax", "- no_such_name_in_the_file")


def _rejecting_reply(messages: list) -> str:  # type: ignore[type-arg]
    """A patch whose SEARCH text is not in the file: validation rejects it."""
    text = reply(messages)
    return REJECTED_PATCH if text == PATCH_REPLY else text


async def test_apply_on_a_rejected_candidate_says_why(repo: Path) -> None:
    settings = tui_settings()
    settings.patch.edit_format = "search-replace"
    settings.model.max_new_tokens = 200
    app = make_app(repo, settings, backend=ScriptedBackend(_rejecting_reply), preload_model=False,
                   cursor_blink=False)
    before = (repo / "shopcore" / "pricing" / "calculator.py").read_bytes()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _send(app, pilot, "/patch @ISSUES/001-*.md")
        assert isinstance(app.screen, PatchReviewScreen)
        candidate = app.screen.current
        assert candidate is not None and not candidate.applicable
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, PatchReviewScreen)  # no confirmation: nothing to apply
        shown = [n for n in app._notifications if "cannot be applied" in str(n.title)]
        assert shown and str(candidate.rejection) in str(shown[0].message)
        assert (repo / "shopcore" / "pricing" / "calculator.py").read_bytes() == before


async def test_context_inspector_shows_reasons_and_what_a_completion_saw(repo: Path) -> None:
    seen: list[object] = []
    app = _app(repo)
    async with app.run_test(size=(160, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/tax.py", 20)
        await pilot.press("f6")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the explanation")
        built = next(s for s in seen if isinstance(s, m.ContextBuilt)).context
        table = app.query_one("#context-table", DataTable)
        widths = [column.width for column in table.ordered_columns]
        why = widths[3]
        # The reason gets the rest of the width (not its header's three cells), and nothing scrolls sideways.
        assert why == max(widths) >= 25
        assert sum(w + 2 * table.cell_padding for w in widths) + 1 == table.size.width  # + the scrollbar
        shown = screen_text(app)
        assert built.items[0].reason[:why - 1] in shown
        await _complete_at_the_end_of(pilot, app, seen, "shopcore/pricing/money.py")
        suggestion = next(s for s in seen if isinstance(s, m.CompletionReady)).suggestion
        seen_by_completion = suggestion.context
        assert seen_by_completion is not None and seen_by_completion is not built
        summary = str(app.query_one("#context-summary").render())
        assert summary.startswith("completion · ") and f"{seen_by_completion.tokens_used:,} / " in summary
        assert table.row_count == len(seen_by_completion.items) + len(seen_by_completion.dropped)
        opened = {path for path, _start, _end in app.query_one(ContextInspector)._rows}
        assert "shopcore/pricing/money.py" in opened  # the completion's file, not the explained one


async def _complete_at_the_end_of(pilot: Any, app: Any, seen: list[object], path: str) -> None:
    """Open ``path``, put the cursor on its last line and press F7 until the completion is ready."""
    app._open(path, 1)
    code = app.query_one(CodeView)
    code.focus()
    code.move_cursor((code.document.line_count - 1, 0))
    await pilot.press("f7")
    await settle(pilot, lambda: any(isinstance(s, m.CompletionReady) for s in seen), "the completion")


async def test_an_empty_completion_still_shows_what_the_completion_saw(repo: Path) -> None:
    """The model may add nothing; the inspector must not keep showing the previous request's context."""
    def nothing_to_complete(messages: list[object]) -> str:
        return "" if len(messages) == 1 else reply(messages)  # type: ignore[arg-type]

    seen: list[object] = []
    app = make_app(repo, tui_settings(), backend=ScriptedBackend(nothing_to_complete), preload_model=False,
                   cursor_blink=False)
    async with app.run_test(size=(160, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        app._open("shopcore/pricing/tax.py", 20)
        await pilot.press("f6")
        await settle(pilot, lambda: any(isinstance(s, m.AnswerDone) for s in seen), "the explanation")
        await _complete_at_the_end_of(pilot, app, seen, "shopcore/pricing/money.py")
        assert next(s for s in seen if isinstance(s, m.CompletionReady)).suggestion.text.strip() == ""
        assert str(app.query_one("#context-summary").render()).startswith("completion · ")


async def test_the_repo_map_is_ready_before_the_first_question_and_follows_a_reindex(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval import map_tables
    from retrieval.repo_map import shared_repo_map

    app = _app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.query_one(StatusBar)
        await settle(pilot, lambda: status.index_label == "index fresh")
        repo_map = shared_repo_map(str(app.session.repo))
        assert repo_map._digest == app.session.reader().content().digest  # prepared with no question asked
        patched: list[int] = []
        real_patch = map_tables.MapTables.patch

        def counting(self: Any, changed: Any, content: Any = None) -> Any:
            patched.append(len(changed))
            return real_patch(self, changed, content)

        monkeypatch.setattr(map_tables.MapTables, "patch", counting)
        await _send(app, pilot, "where is the price of an order computed?")
        assert patched == []  # the question used the map prepared in the background
        tax = repo / "shopcore" / "pricing" / "tax.py"
        tax.write_text(tax.read_text(encoding="utf-8") + "\n\ndef vat_for_region(region):\n    return 0.2\n",
                       encoding="utf-8")
        await pilot.press("f5")  # re-index: the map is patched with the one changed file, in the background
        await settle(pilot, lambda: not app._indexing and status.index_label == "index fresh"
                     and repo_map._digest == app.session.reader().content().digest, "the map after re-indexing")
        assert patched == [1]
        await _send(app, pilot, "which rate does vat_for_region return?")
        assert patched == [1]
