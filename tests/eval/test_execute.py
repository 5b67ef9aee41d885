"""Every verdict the harness gives, produced by a real sandboxed run."""

from __future__ import annotations

import pytest

from assistant.evaluation.execute import run_program, syntax_error
from assistant.evaluation.tasks import Task
from assistant.sandbox import SandboxLimits

TASK = Task(task_id="t/0", prompt="def inc(x):\n", test="def check(f):\n    assert f(1) == 2\n    assert f(5) == 6\n",
            entry_point="inc")
LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=512)


@pytest.mark.parametrize(
    ("program", "verdict"),
    [
        ("def inc(x):\n    return x + 1\n", "passed"),
        ("def inc(x):\n    return x + 2\n", "assertion_failure"),
        ("def inc(x):\n    return x +\n", "syntax_error"),
        ("def inc(x):\n    return undefined_name\n", "runtime_error"),
        ("def other(x):\n    return x + 1\n", "runtime_error"),  # entry point missing
        ("def inc(x):\n    while True:\n        pass\n", "timeout"),
        ("def inc(x):\n    data = bytearray(10 * 1024 ** 3)\n    return x + 1\n", "memory"),
        ("import sys\nsys.exit(0)\n", "runtime_error"),  # exiting early is never a pass
        ("import os\nos._exit(0)\n", "runtime_error"),
    ],
)
def test_verdicts(program: str, verdict: str) -> None:
    result = run_program(TASK, program, LIMITS)
    assert result.verdict == verdict, result


def test_syntax_error_is_found_before_anything_runs() -> None:
    assert syntax_error("def f(:\n") is not None
    assert syntax_error("x = 1\n") is None
    result = run_program(TASK, "def inc(x) return x\n", LIMITS)
    assert result.stage == "parse" and result.duration_s == 0.0


def test_pytest_style_and_plain_assert_tests() -> None:
    pytest_style = Task(task_id="t/1", prompt="", test="def test_inc():\n    assert inc(1) == 2\n", kind="program")
    assert run_program(pytest_style, "def inc(x):\n    return x + 1\n", LIMITS).verdict == "passed"
    assert run_program(pytest_style, "def inc(x):\n    return x\n", LIMITS).verdict == "assertion_failure"
    plain = Task(task_id="t/2", prompt="", test="assert inc(2) == 3\n", kind="program")
    assert run_program(plain, "def inc(x):\n    return x + 1\n", LIMITS).verdict == "passed"
    assert run_program(plain, "def inc(x):\n    return x - 1\n", LIMITS).verdict == "assertion_failure"


def test_sample_cannot_reach_the_network_or_see_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    program = "import os\ndef inc(x):\n    assert 'OPENAI_API_KEY' not in os.environ\n    return x + 1\n"
    result = run_program(TASK, program, LIMITS)
    assert result.verdict == "passed"
