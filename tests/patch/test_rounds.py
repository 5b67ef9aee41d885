"""Repair rounds with a scripted model: precise feedback, convergence, dedupe, budget, costs in the report."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from assistant.models.base import ChatMessage, GenerationParams, GenerationStats
from assistant.patch.candidate import REJECTED, TESTS_PASS
from assistant.patch.feedback import TRIM_MARK, closest_lines, fit_to_budget
from assistant.patch.generate import PatchRequest, run_patch
from assistant.patch.rounds import REPEATED
from base.config import Settings
from tests.patch.test_testsel import BREAK_COUNT, FIX, _repo

# What a real model often writes first: the right lines with the body's indentation lost.
BAD_INDENT = ("shop/core.py\n```python\n<<<<<<< SEARCH\ndef total(prices):\nreturn sum(prices) + 1\n=======\n"
              "def total(prices):\nreturn sum(prices)\n>>>>>>> REPLACE\n```\n")
SYNTAX = ("shop/core.py\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n    return sum(prices +\n"
          ">>>>>>> REPLACE\n")
GARBAGE = "I would change the total function so that it does not add one."


class ScriptedChat:
    """Replies in order; records every conversation it was sent (the explanation request aside)."""

    model_name = "scripted-7b"
    device = "cpu"
    last_stats = GenerationStats()

    def __init__(self, replies: list[str], context_window: int = 8192) -> None:
        self.replies = list(replies)
        self.context_window = context_window
        self.conversations: list[list[ChatMessage]] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream(self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None) -> Iterator[str]:
        raise AssertionError("patches use chat")

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        if "Patch:" in messages[-1].content:
            yield "Removes the extra one."
            return
        self.conversations.append(list(messages))
        yield self.replies.pop(0) if self.replies else GARBAGE


def _settings(rounds: int = 2) -> Settings:
    settings = Settings()
    settings.patch.samples = 1
    settings.patch.rounds = rounds
    settings.patch.edit_format = "search-replace"
    settings.patch.test_timeout_s = 60
    settings.index.embeddings = False
    return settings


def test_converges_from_bad_indentation_through_a_regression_to_a_fix(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    backend = ScriptedChat([BAD_INDENT, BREAK_COUNT, FIX])
    report = run_patch(root, _settings(2), backend, PatchRequest(issue="total() is off by one",
                                                                  files=["shop/core.py"], explain=False))
    best = report.candidates[0]
    assert best.verdict == TESTS_PASS and best.fixed_tests == ["tests.test_core::test_total"]
    assert [(r.round, r.verdict) for r in best.rounds] == [(0, REJECTED), (1, "lint-clean"), (2, TESTS_PASS)]
    assert best.rounds[0].summary == "no-match" and best.rounds[1].summary == "1 regression(s)"
    # round 1 was told where the real lines are, with numbers, in the same conversation
    first_feedback = backend.conversations[1][-1].content
    assert backend.conversations[1][-2] == ChatMessage("assistant", BAD_INDENT)
    assert "The closest lines in shop/core.py are 1-2" in first_feedback
    assert " 1 | def total(prices):" in first_feedback and " 2 |     return sum(prices) + 1" in first_feedback
    # round 2 was told which passing test the change broke, and the test output
    second_feedback = backend.conversations[2][-1].content
    assert "passed before your change and fail with it: tests.test_service::test_checkout" in second_feedback
    assert "assert" in second_feedback and len(backend.conversations[2]) == 6  # the whole conversation
    for record in best.rounds[1:]:
        assert record.prompt_tokens > 0 and record.feedback_tokens > 0 and record.reply_tokens > 0
        assert record.seconds > 0
    text = report.render_text()
    assert "round 1: lint-clean (1 regression(s))" in text and "round 2: tests-pass" in text
    assert report.to_dict()["candidates"][0]["rounds"][2]["verdict"] == TESTS_PASS


def test_stops_early_once_a_candidate_passes(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    settings = _settings(3)
    settings.patch.samples = 2
    backend = ScriptedChat([FIX, GARBAGE])
    report = run_patch(root, settings, backend, PatchRequest(issue="x", files=["shop/core.py"], explain=False))
    assert len(backend.conversations) == 2  # the two samples; no repair round was needed
    assert report.candidates[0].verdict == TESTS_PASS
    assert any("a candidate passes the tests" in note for note in report.notes)
    assert report.candidates[1].rounds[-1].stopped == "another candidate passes the tests"


def test_malformed_and_syntax_feedback(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    backend = ScriptedChat([GARBAGE, SYNTAX, FIX])
    report = run_patch(root, _settings(2), backend, PatchRequest(issue="x", files=["shop/core.py"], explain=False))
    assert report.candidates[0].verdict == TESTS_PASS
    malformed = backend.conversations[1][-1].content
    assert "It could not be read" in malformed and "<<<<<<< SEARCH" in malformed  # the expected format
    syntax = backend.conversations[2][-1].content
    assert "Syntax error: shop/core.py:2" in syntax and ">2 |     return sum(prices +" in syntax


def test_a_repeated_reply_ends_the_conversation(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    backend = ScriptedChat([BAD_INDENT, BAD_INDENT, BAD_INDENT, BAD_INDENT])
    report = run_patch(root, _settings(5), backend, PatchRequest(issue="x", files=["shop/core.py"], explain=False))
    only = report.candidates[0]
    assert len(backend.conversations) == 2  # the sample and one repair, which repeated it
    assert only.rounds[-1].stopped == REPEATED and only.verdict == REJECTED


def test_feedback_is_cut_to_the_budget(tmp_path: Path) -> None:
    text = "Failing tests: a\n" + "x = 1\n" * 5000 + "AssertionError: the end"
    count = ScriptedChat([]).count_tokens
    fitted = fit_to_budget(text, 300, count)
    assert count(fitted) <= 300 and TRIM_MARK in fitted and fitted.startswith("Failing tests: a")
    assert fit_to_budget("short", 300, count) == "short"
    root = _repo(tmp_path)
    (root / "tests" / "test_core.py").write_text(
        "from shop.core import total\n\n\ndef test_total():\n    print('noise ' * 20000)\n"
        "    assert total([1, 2]) == 3\n")
    settings = _settings(1)
    settings.model.max_new_tokens = 256
    backend = ScriptedChat([BREAK_COUNT, FIX], context_window=3000)
    run_patch(root, settings, backend, PatchRequest(issue="x", files=["shop/core.py"], explain=False))
    repair = backend.conversations[1]
    assert sum(count(m.content) + 8 for m in repair) + settings.model.max_new_tokens <= 3000


def test_closest_lines_finds_the_window() -> None:
    content = "a = 1\n\ndef f(x):\n    y = x + 1\n    return y\n"
    assert closest_lines(content, "def f(x):\ny = x + 1\n") == (3, ["def f(x):", "    y = x + 1"])
    assert closest_lines(content, "completely different text here") is None


def test_project_rules_go_into_the_patch_prompt_and_the_report(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "AGENTS.md").write_text("Never use floats for money.\n")
    (root / "shop" / "CLAUDE.md").write_text("Keep shop functions pure.\n")
    backend = ScriptedChat([FIX])
    report = run_patch(root, _settings(0), backend, PatchRequest(issue="x", files=["shop/core.py"], explain=False))
    prompt = backend.conversations[0][1].content
    assert prompt.index("Never use floats") < prompt.index("Keep shop functions pure") < prompt.index("Issue:")
    row = report.localization[0]
    assert row.path == "AGENTS.md, shop/CLAUDE.md" and row.reason == "project rules" and row.shown == "full"
