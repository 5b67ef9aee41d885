"""An answer that loops is stopped by the core, once, for every front end.

A scripted OpenAI-compatible server replays a loop the embedded model really produced;
the CLI (text and JSON) and the TUI must show the same cut answer and say why, and the
saved chat holds one copy.  The last test runs the embedded model itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.events import AnswerFinished
from assistant.session import Session
from base.config import IndexSettings, Settings
from indexer.pipeline import index_repository
from tests.conftest import run_cli
from tests.models.test_repetition import RESERVATIONS, RESERVATIONS_KEPT
from tests.recording_server import recording_server
from tests.tui.helpers import settle
from tui.app import make_app
from tui.widgets.conversation import AssistantMessage, NoteMessage
from tui.widgets.prompt import PromptInput

NOTE = "stopped: the model was repeating itself (one copy kept)"
QUESTION = "How are stock reservations released?"


@pytest.fixture
def indexed(sample_repo_copy: Path) -> Path:
    index_repository(sample_repo_copy, IndexSettings(embeddings=False))
    return sample_repo_copy


def _cli(repo: Path, url: str, *args: str) -> Any:
    result = run_cli("ask", QUESTION, *args, "--base-url", url, "--model", "scripted", cwd=repo, timeout=180)
    assert result.returncode == 0, result.stderr
    return result


def test_the_cli_stops_a_loop_and_says_so(indexed: Path) -> None:
    with recording_server(RESERVATIONS, piece=6) as server:
        text = _cli(indexed, server.url)
        shown = json.loads(_cli(indexed, server.url, "--json").stdout)
    assert text.stdout.startswith(RESERVATIONS_KEPT)
    assert text.stdout.count("However, the code is not very clear") < RESERVATIONS.count("However, the code")
    assert f"note: {NOTE}" in text.stderr and ", repetition]" in text.stderr
    assert shown["answer"] == RESERVATIONS_KEPT
    assert NOTE in shown["notes"] and shown["stats"]["finish_reason"] == "repetition"


@pytest.mark.anyio
async def test_the_tui_shows_the_cut_answer_and_saves_one_copy(indexed: Path) -> None:
    with recording_server(RESERVATIONS, piece=6) as server:
        settings = Settings()
        settings.model.backend, settings.model.base_url, settings.model.name = "openai", server.url, "scripted"
        app = make_app(indexed, settings, preload_model=False, cursor_blink=False, offer_index=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: app.session.index_state().status == "fresh", "the index check")
            app.query_one(PromptInput).value = QUESTION
            await pilot.press("enter")
            await settle(pilot, lambda: not app.busy and bool(app.query(AssistantMessage)), "the answer")
            answer = app.query_one(AssistantMessage)
            await settle(pilot, lambda: bool(answer.query(NoteMessage)), "the note")
            assert answer.markdown.source == RESERVATIONS_KEPT
            assert [str(n.render()) for n in answer.query(NoteMessage)] == [NOTE]
            saved = app.session.chat.turns[-1]
    assert saved.role == "assistant" and saved.content == RESERVATIONS_KEPT


@pytest.mark.slow
def test_the_embedded_model_is_stopped_when_it_loops(indexed: Path, embedded_backend: Any) -> None:
    """Greedy SmolLM2-135M loops on some questions about the sample (two of three tried); it is cut there."""
    settings = Settings()
    settings.model.temperature = 0.0
    session = Session(indexed, settings, backend=embedded_backend, persist=False)
    finished = []
    for question in (QUESTION, "How does json.dumps handle the indent argument?"):
        done = [e for e in session.ask(question) if isinstance(e, AnswerFinished)][-1]
        finished.append(done)
    looped = [d for d in finished if d.stats is not None and d.stats.finish_reason == "repetition"]
    assert looped, [d.turn.content for d in finished]
    for done in looped:
        assert done.stats is not None and done.stats.completion_tokens < settings.model.max_new_tokens
        assert not done.cancelled
        paragraphs = [p for p in done.turn.content.split("\n\n") if p.strip()]
        assert len(paragraphs) == len(set(paragraphs)) or len(paragraphs) - len(set(paragraphs)) <= 1
