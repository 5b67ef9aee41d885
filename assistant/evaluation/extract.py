"""From a model's reply to a runnable program.

Instruct models answer in Markdown: the code is taken from the fenced block that
defines the entry point (else the first ```python block, else the first block;
a fence left open because the answer hit ``max_new_tokens`` still counts).  If
the reply holds the whole function, the task's prompt is kept in front of it
(for imports and helper functions; the later ``def`` wins); if it holds only a
body, the body is indented under the prompt's ``def``.  Base models continue the
prompt directly and are cut at the first stop sequence.
"""

from __future__ import annotations

import re
import textwrap

from assistant.evaluation.tasks import Task

# Where a base model's completion of a HumanEval-style function ends: the next top-level statement.
COMPLETION_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |class |import |from |@|async def )", re.MULTILINE)


def truncate_at_stops(text: str, stops: list[str]) -> str:
    """``text`` up to (not including) the earliest stop sequence."""
    cut = len(text)
    for stop in stops:
        if not stop:
            continue
        index = text.find(stop)
        if index != -1:
            cut = min(cut, index)
    return text[:cut]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def extract_code(reply: str, entry_point: str | None = None) -> str:
    """The code in a chat reply (see the module docstring for the order of preference)."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply)]
    if blocks:
        if entry_point:
            for _lang, body in blocks:
                if _defines(body, entry_point):
                    return body
        for lang, body in blocks:
            if lang in {"python", "py", "python3"}:
                return body
        return blocks[0][1]
    match = _CODE_START.search(reply)
    if match and match.start() > 0 and not reply[: match.start()].startswith((" ", "\t")):
        return reply[match.start():]  # drop a line of prose before the code
    return reply


def _as_body(code: str) -> str:
    lines = [line for line in code.splitlines() if line.strip()]
    if not lines:
        return "    pass\n"
    if lines[0][0] not in " \t":
        code = textwrap.indent(textwrap.dedent(code), "    ")
    return code if code.endswith("\n") else code + "\n"


def build_program(task: Task, reply: str, mode: str) -> str:
    """The program to check for ``reply``; ``mode`` is ``chat`` or ``completion``."""
    if task.kind == "program":
        return extract_code(reply, task.entry_point) if mode == "chat" else reply
    if mode == "completion":
        return task.prompt + truncate_at_stops(reply, COMPLETION_STOPS)
    code = extract_code(reply, task.entry_point)
    if task.entry_point and _defines(code, task.entry_point):
        prompt = task.prompt if task.prompt.endswith("\n") else task.prompt + "\n"
        return prompt + "\n\n" + code
    return task.prompt + _as_body(code)
