"""From model replies to programs: fenced blocks, raw text, whole functions and bare bodies."""

from __future__ import annotations

from assistant.evaluation.extract import build_program, extract_code, truncate_at_stops
from assistant.evaluation.tasks import Task

PROMPT = 'from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    """Sum of xs."""\n'
TASK = Task(task_id="t/0", prompt=PROMPT, test="def check(f):\n    assert f([1, 2]) == 3\n", entry_point="add")


def test_fenced_block_defining_the_entry_point_wins() -> None:
    reply = ("First a helper:\n```python\ndef helper():\n    return 1\n```\nThen:\n```python\n"
             "def add(xs):\n    return sum(xs)\n```\n")
    assert extract_code(reply, "add") == "def add(xs):\n    return sum(xs)\n"


def test_unterminated_fence_is_still_code() -> None:
    reply = "```python\ndef add(xs):\n    return sum(xs)\n"
    assert extract_code(reply, "add").startswith("def add")


def test_raw_text_with_prose_line_before_code() -> None:
    reply = "Sure! Here it is.\ndef add(xs):\n    return sum(xs)\n"
    assert extract_code(reply, "add").startswith("def add(xs)")


def test_whole_function_keeps_prompt_imports() -> None:
    program = build_program(TASK, "```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```", "chat")
    assert program.startswith(PROMPT)
    namespace: dict[str, object] = {}
    exec(program, namespace)
    assert namespace["add"]([1, 2]) == 3  # type: ignore[operator]


def test_body_only_is_indented_under_the_prompt() -> None:
    program = build_program(TASK, "```python\nreturn sum(xs)\n```", "chat")
    namespace: dict[str, object] = {}
    exec(program, namespace)
    assert namespace["add"]([4, 5]) == 9  # type: ignore[operator]


def test_completion_mode_cuts_at_stop_sequences() -> None:
    reply = "    return sum(xs)\n\n\ndef other():\n    pass\n"
    program = build_program(TASK, reply, "completion")
    assert program == PROMPT + "    return sum(xs)\n\n"
    assert truncate_at_stops("a\n#b\nif __name__", ["\n#", "\nif __name__"]) == "a"


def test_program_tasks_take_the_code_as_is() -> None:
    task = Task(task_id="p/1", prompt="Write add.", test="assert add([1]) == 1\n", entry_point="add",
                kind="program")
    assert build_program(task, "```python\ndef add(xs):\n    return sum(xs)\n```", "chat").startswith("def add")
