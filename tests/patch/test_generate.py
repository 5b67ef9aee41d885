"""The generate flow with a scripted backend (pure logic: prompt, sample, parse, dedupe, validate, rank).

The real model runs in ``test_patch_e2e.py``; here the replies are fixed so every
verdict can be predicted exactly.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.models.base import ChatMessage, GenerationParams, GenerationStats
from assistant.patch.candidate import APPLIES, LINT_CLEAN, REJECTED, TESTS_PASS
from assistant.patch.generate import PatchRequest, issue_title, run_patch
from base.config import Settings
from base.errors import IndexMissingError, UsageError


class ScriptedBackend:
    """Answers chat requests with the next scripted reply; records what it was asked."""

    def __init__(self, replies: list[str], summary: str = "Rounds the total.") -> None:
        self.replies = list(replies)
        self.summary = summary
        self.requests: list[tuple[list[ChatMessage], GenerationParams]] = []

    model_name = "scripted-7b"
    context_window = 8192
    device = "cpu"
    last_stats = GenerationStats()

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream(self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
               ) -> Iterator[str]:
        raise AssertionError("patches use chat")

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        self.requests.append((messages, params))
        text = self.replies.pop(0) if "Patch:" not in messages[-1].content else self.summary
        yield from (text[i:i + 7] for i in range(0, len(text), 7))


CALC = '''def total(prices):
    """Sum of prices."""
    return sum(prices) + 1


def count(prices):
    return len(prices)
'''
TEST = "from calc import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
ISSUE = "# total() is off by one\n\n`total([1, 2])` returns 4, expected 3.\n"

FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n    return sum(prices)\n>>>>>>> REPLACE\n```\n"
LINT_BAD = ("calc.py\n```python\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n"
            "    return sum(pricez)\n>>>>>>> REPLACE\n```\n")
WRONG = ("calc.py\n```python\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n"
         "    return sum(prices) + 2\n>>>>>>> REPLACE\n```\n")
NO_MATCH = "calc.py\n<<<<<<< SEARCH\n    return prices.sum()\n=======\n    return 0\n>>>>>>> REPLACE\n"
ESCAPE = "../outside.py\n<<<<<<< SEARCH\n=======\nprint('pwned')\n>>>>>>> REPLACE\n"
GIT = ".git/hooks/pre-commit\n<<<<<<< SEARCH\n=======\n#!/bin/sh\n>>>>>>> REPLACE\n"
GARBAGE = "The function total adds one. You should remove it."


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    return root


def _settings(samples: int = 3) -> Settings:
    settings = Settings()
    settings.patch.samples = samples
    settings.patch.edit_format = "search-replace"
    settings.patch.rounds = 0  # the first pass only; repair rounds are tested in test_rounds.py
    settings.index.embeddings = False
    return settings


def test_best_of_n_ranks_by_validators_and_reports_every_verdict(repo: Path) -> None:
    replies = [WRONG, LINT_BAD, FIX, FIX, NO_MATCH, ESCAPE, GIT, GARBAGE]
    backend = ScriptedBackend(replies)
    cmd = f"{sys.executable} -c 'from calc import total; assert total([1, 2]) == 3'"
    report = run_patch(repo, _settings(len(replies)), backend,
                       PatchRequest(issue=ISSUE, files=["calc.py"], test_cmd=cmd))
    verdicts = [(c.index, c.verdict) for c in report.candidates]
    assert verdicts[0] == (3, TESTS_PASS)
    assert report.candidates[0].samples == [3, 4]  # the duplicate was merged
    assert verdicts[1] == (1, LINT_CLEAN)  # applies and lint-clean, but the test fails
    assert verdicts[2] == (2, APPLIES)  # new F821 finding
    assert {i for i, v in verdicts[3:]} == {5, 6, 7, 8} and all(v == REJECTED for _i, v in verdicts[3:])
    by_index = {c.index: c for c in report.candidates}
    assert "not found" in by_index[5].rejection
    assert "leaves the repository" in by_index[6].rejection
    assert ".git" in by_index[7].rejection
    assert "malformed" in by_index[8].rejection
    assert any("tests failed" in r for r in by_index[1].reasons)
    assert any("F821" in r for r in by_index[2].reasons)
    assert report.best is by_index[3] and report.summary == "Rounds the total."
    assert (repo / "calc.py").read_text() == CALC  # never touched
    assert not (repo.parent / "outside.py").exists()
    payload = report.to_dict()
    assert payload["best"] == 3 and "-    return sum(prices) + 1" in payload["best_diff"]
    assert [c["verdict"] for c in payload["candidates"]][:3] == [TESTS_PASS, LINT_CLEAN, APPLIES]
    text = report.render_text()
    assert "Files chosen:" in text and "calc.py" in text and "pinned with --files" in text
    assert "tests-pass" in text and "Explanation (from the model):" in text


def test_prompt_shows_pinned_file_and_samples_at_patch_temperature(repo: Path) -> None:
    backend = ScriptedBackend([FIX, FIX])
    settings = _settings(2)
    settings.patch.temperature = 0.75
    run_patch(repo, settings, backend, PatchRequest(issue=ISSUE, files=["calc.py"], explain=False))
    assert len(backend.requests) == 2
    messages, params = backend.requests[0]
    assert params.temperature == 0.75
    assert "SEARCH" in messages[0].content
    assert "calc.py\n```python\n" + CALC in messages[1].content and "off by one" in messages[1].content


def test_auto_format_whole_file_for_small_models(repo: Path) -> None:
    whole = "calc.py\n```python\n" + CALC.replace(" + 1", "") + "```\n"
    backend = ScriptedBackend([whole])
    backend.model_name = "tiny"
    settings = _settings(1)
    settings.patch.edit_format = "auto"
    settings.model.name = "smollm2-135m"
    report = run_patch(repo, settings, backend, PatchRequest(issue=ISSUE, files=["calc.py"], explain=False))
    assert report.edit_format == "whole-file"
    # no --test-cmd: the repository's own test_calc.py is discovered, selected and passes
    assert report.candidates[0].verdict == TESTS_PASS and report.candidates[0].well_formed


def test_missing_index_is_one_clear_error_unless_files_are_pinned(repo: Path) -> None:
    with pytest.raises(IndexMissingError) as info:
        run_patch(repo, _settings(1), ScriptedBackend([FIX]), PatchRequest(issue=ISSUE))
    assert "repo-assistant index" in info.value.one_line() and "--files" in info.value.one_line()
    report = run_patch(repo, _settings(1), ScriptedBackend([FIX]),
                       PatchRequest(issue=ISSUE, files=["calc.py"], explain=False))
    assert any("no index" in note for note in report.notes)


def test_bad_requests(repo: Path) -> None:
    with pytest.raises(UsageError, match="empty"):
        run_patch(repo, _settings(1), ScriptedBackend([]), PatchRequest(issue="  \n"))
    with pytest.raises(UsageError, match="no such file"):
        run_patch(repo, _settings(1), ScriptedBackend([]), PatchRequest(issue=ISSUE, files=["nope.py"]))
    with pytest.raises(UsageError, match="leaves the repository"):
        run_patch(repo, _settings(1), ScriptedBackend([]), PatchRequest(issue=ISSUE, files=["../x.py"]))


def test_given_replies_need_no_model(repo: Path) -> None:
    report = run_patch(repo, _settings(), None, PatchRequest(issue=ISSUE, replies=[FIX], files=["calc.py"]))
    assert report.edit_format == "search-replace" and report.candidates[0].verdict == TESTS_PASS  # test_calc.py
    assert report.summary == ""


def test_issue_title() -> None:
    assert issue_title("\n\n## Crash on empty cart\nmore") == "Crash on empty cart"
    assert issue_title("") == "(empty issue)"


def test_patch_prompt_budget_comes_from_the_one_budget_rule() -> None:
    from assistant.budget import BUDGET_TABLE, task_budget

    backend = ScriptedBackend([])
    settings = _settings()
    cpu = task_budget(settings, "patch", window=backend.context_window, device=backend.device)
    assert cpu.capped and cpu.configured == BUDGET_TABLE["patch"].cpu_cap
    settings.retrieval.budget = 6000  # explicit: kept
    assert task_budget(settings, "patch", window=backend.context_window, device=backend.device).configured == 6000
    settings.retrieval.budget = Settings().retrieval.budget
    gpu = task_budget(settings, "patch", window=backend.context_window, device="cuda:0")
    assert not gpu.capped and gpu.configured == Settings().retrieval.budget
