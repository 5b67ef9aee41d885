"""`eval --rounds`: a failing sample gets its failure back in the same conversation and is run again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from assistant.evaluation.runner import EvalConfig, EvalRun
from assistant.evaluation.tasks import Task
from assistant.models.base import ChatMessage, GenerationParams, GenerationStats

TASK = Task(task_id="t/0", prompt="def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n", test="def check(f):\n    assert f(2, 3) == 5\n",
            entry_point="add")
WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"


class ChatOnly:
    """A chat backend (no chat_prompt rendering) answering from a script; records the conversations."""

    model_name = "scripted"
    device = "cpu"
    context_window = 4096
    last_stats = GenerationStats()

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.seen: list[list[ChatMessage]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        self.seen.append(list(messages))
        yield self.replies.pop(0)


def _run(tmp_path: Path, replies: list[str], rounds: int) -> tuple[dict, ChatOnly]:
    backend = ChatOnly(replies)
    config = EvalConfig(suite="s", model="scripted", mode="chat", n=1, ks=[1], workers=1, rounds=rounds)
    report = EvalRun([TASK], config, tmp_path / f"r{rounds}", backend_factory=lambda: backend).run()
    return report, backend


def test_a_failing_sample_is_repaired_with_its_failure(tmp_path: Path) -> None:
    report, backend = _run(tmp_path, [WRONG, RIGHT], rounds=1)
    assert report["verdicts"]["passed"] == 1 and report["pass_at_k"]["pass@1"]["value"] == 1.0
    feedback = backend.seen[1][-1].content
    assert backend.seen[1][-2].role == "assistant" and "a - b" in backend.seen[1][-2].content
    assert "does not pass the tests (assertion failure)" in feedback
    rounds = report["rounds"]
    assert rounds["passed_first_try"] == 0 and rounds["passed_after_rounds"] == 1 and rounds["repair_replies"] == 1
    assert rounds["repair_tokens"] > 0


def test_without_rounds_the_failure_stands_and_a_repeat_ends_the_loop(tmp_path: Path) -> None:
    report, _ = _run(tmp_path, [WRONG], rounds=0)
    assert report["verdicts"]["passed"] == 0 and "rounds" not in report
    report, backend = _run(tmp_path, [WRONG, WRONG, RIGHT], rounds=3)
    assert report["verdicts"]["passed"] == 0 and len(backend.seen) == 2  # the repeat stopped it
    assert report["rounds"]["repeated_replies"] == 1
