"""One core for every front end: the CLI and the TUI send the model the same bytes.

Both front ends run against a scripted OpenAI-compatible server that records every
request (``tests/recording_server.py``), so what is compared is what really reaches
a model, not what either front end thinks it sends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base.config import Settings
from indexer.pipeline import index_repository
from tests.conftest import run_cli
from tests.recording_server import recording_server
from tests.tui.helpers import settle
from tui.app import make_app
from tui.widgets.conversation import AssistantMessage, LocationList
from tui.widgets.prompt import PromptInput

pytestmark = pytest.mark.anyio
QUESTION = "How is the order total computed with a coupon?"


@pytest.fixture
def indexed(sample_repo_copy: Path) -> Path:
    from base.config import IndexSettings

    index_repository(sample_repo_copy, IndexSettings(embeddings=False))
    return sample_repo_copy


def _settings(url: str) -> Settings:
    settings = Settings()
    settings.model.backend = "openai"
    settings.model.base_url = url
    settings.model.name = "scripted"
    return settings


def _cli(repo: Path, url: str, *args: str) -> str:
    result = run_cli(*args, "--base-url", url, "--model", "scripted", cwd=repo, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def _tui_send(repo: Path, url: str, text: str) -> list[str]:
    """Send ``text`` in the TUI; returns the sources its answer lists."""
    app = make_app(repo, _settings(url), preload_model=False, cursor_blink=False, offer_index=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: app.session.index_state().status == "fresh", "the index check")
        app.query_one(PromptInput).value = text
        await pilot.press("enter")
        await settle(pilot, lambda: not app.busy and bool(app.query(AssistantMessage)), f"{text!r} to finish")
        answer = app.query_one(AssistantMessage)
        await settle(pilot, lambda: bool(answer.query(LocationList)), "the sources to show")
        return [c.label for c in answer.query_one(LocationList).locations]


async def test_ask_sends_the_byte_identical_prompt_from_the_cli_the_tui_and_context(indexed: Path) -> None:
    with recording_server() as server:
        _cli(indexed, server.url, "ask", QUESTION)
        await _tui_send(indexed, server.url, QUESTION)
        shown = json.loads(_cli(indexed, server.url, "context", "--query", QUESTION, "--json"))
    cli_prompt, tui_prompt = server.chats
    assert cli_prompt == tui_prompt
    # `repo-assistant context --query` shows exactly what `ask` sends.
    assert shown["messages"] == cli_prompt
    # The headings carry the citation form the instructions ask for.
    assert "cite it as `path:start-end` exactly as its heading shows" in cli_prompt[0]["content"]
    for item in shown["items"]:
        if item["path"]:
            assert f"### {item['path']}:{item['start_line']}-{item['end_line']}" in cli_prompt[-1]["content"]


async def test_explain_sends_the_byte_identical_prompt_and_lists_the_target_first(indexed: Path) -> None:
    with recording_server("It computes VAT.") as server:
        out = _cli(indexed, server.url, "explain", "shopcore/pricing/tax.py:compute_tax")
        tui_sources = await _tui_send(indexed, server.url, "/explain compute_tax")
    cli_prompt, tui_prompt = server.chats
    assert cli_prompt == tui_prompt
    assert "Explain `compute_tax`: `shopcore/pricing/tax.py:74-" in cli_prompt[-1]["content"]
    cli_sources = [line[2:] for line in out.split("Sources:\n", 1)[1].splitlines() if line.startswith("- ")]
    assert cli_sources[0].startswith("shopcore/pricing/tax.py:74-")
    assert tui_sources[0] == cli_sources[0]


def test_a_question_searches_once_and_search_uses_the_users_retrieval_settings(
        indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.context as context_module
    from assistant.session import Session
    from retrieval.search import search as real_search

    calls: list[str] = []

    def counting_search(*args: object, **kwargs: object) -> object:
        calls.append(str(args[1]))
        return real_search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(context_module, "search", counting_search)
    session = Session(indexed, Settings(), persist=False)
    session.prepare_ask(QUESTION)
    assert calls == [QUESTION]  # the target is picked from the hits the context then reuses

    default = Session(indexed, Settings(), persist=False).search(QUESTION, 5)
    tuned = Settings()
    tuned.retrieval.rrf_k = 1
    reweighted = Session(indexed, tuned, persist=False).search(QUESTION, 5)
    assert [h.score for h in default] != [h.score for h in reweighted]  # `/search` honours retrieval.rrf_k
    expected = real_search(Session(indexed, tuned).reader(), QUESTION, 5, mode=tuned.retrieval.mode,
                           settings=tuned.retrieval)
    assert [(h.path, h.score) for h in reweighted] == [(h.path, h.score) for h in expected]
