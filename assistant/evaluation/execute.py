"""Check one program against its task's tests: syntax first, then the sandbox.

The program never runs in our process.  A small driver (written next to it in a
fresh temp dir) executes the program, then the test code, then
``check(entry_point)`` and any ``test_*`` functions, and prints its verdict on a
line tagged with a per-run nonce.  No tagged line means the program ended the
interpreter itself (``sys.exit``, ``os._exit``, a crash): that is never a pass.
"""

from __future__ import annotations

import ast
import json
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation.tasks import Task
from assistant.sandbox import SandboxLimits, run_sandboxed

VERDICTS = ("passed", "syntax_error", "assertion_failure", "runtime_error", "timeout", "memory")

_DRIVER = r'''
import json, os, sys
NONCE = {nonce!r}
ENTRY = {entry!r}
ns = {{"__name__": "__sample__", "__builtins__": __builtins__}}
stage = "program"

def finish(verdict, detail=""):
    sys.stdout.flush()
    sys.stdout.write("\n" + NONCE + json.dumps({{"verdict": verdict, "stage": stage, "detail": detail[:500]}}) + "\n")
    sys.stdout.flush()
    os._exit(0)

try:
    with open("program.py", encoding="utf-8") as handle:
        exec(compile(handle.read(), "program.py", "exec"), ns)
    stage = "test"
    before = {{name: id(value) for name, value in ns.items()}}
    with open("test_code.py", encoding="utf-8") as handle:
        exec(compile(handle.read(), "test_code.py", "exec"), ns)
    stage = "check"
    from_tests = {{name for name, value in ns.items() if before.get(name) != id(value)}}
    if "check" in from_tests and callable(ns["check"]):  # HumanEval style: check(candidate)
        if ENTRY is None:
            raise NameError("the task has a check() but no entry_point")
        if ENTRY not in ns:
            raise NameError(f"the program does not define {{ENTRY}}")
        ns["check"](ns[ENTRY])
    for name, value in list(ns.items()):
        if name.startswith("test") and callable(value) and name in from_tests:
            value()  # pytest-style test functions defined by the task's test code
except AssertionError as exc:
    finish("assertion_failure", f"AssertionError: {{exc}}")
except MemoryError:
    finish("memory", "MemoryError")
except RecursionError as exc:
    finish("runtime_error", f"RecursionError: {{exc}}")
except BaseException as exc:
    finish("runtime_error", f"{{type(exc).__name__}}: {{exc}}")
finish("passed")
'''


@dataclass
class ExecutionResult:
    """The verdict on one program and what the run showed."""

    verdict: str
    detail: str = ""
    stage: str = ""
    duration_s: float = 0.0
    network_isolated: bool | None = None  # None: never executed (syntax error)


def syntax_error(program: str) -> str | None:
    """The syntax error in ``program`` as one line, or ``None`` when it parses."""
    try:
        ast.parse(program)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError) as exc:  # null bytes, absurd nesting
        return f"SyntaxError: {exc}"
    return None


def run_program(task: Task, program: str, limits: SandboxLimits) -> ExecutionResult:
    """Syntax check, then run ``program`` + the task's tests in the sandbox and classify the outcome."""
    error = syntax_error(program)
    if error is not None:
        return ExecutionResult("syntax_error", error, stage="parse")
    nonce = "@@verdict-" + secrets.token_hex(8) + "@@"
    workdir = Path(tempfile.mkdtemp(prefix="ra-eval-"))
    try:
        (workdir / "program.py").write_text(program, encoding="utf-8")
        (workdir / "test_code.py").write_text(task.test, encoding="utf-8")
        (workdir / "driver.py").write_text(_DRIVER.format(nonce=nonce, entry=task.entry_point), encoding="utf-8")
        result = run_sandboxed([sys.executable, "-I", "driver.py"], workdir, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.timed_out:
        return ExecutionResult("timeout", f"no result within {limits.timeout_s:g}s", "",
                               result.duration_s, result.network_isolated)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(nonce):
            try:
                data = json.loads(line[len(nonce):])
            except json.JSONDecodeError:
                break
            return ExecutionResult(str(data.get("verdict", "runtime_error")), str(data.get("detail", "")),
                                   str(data.get("stage", "")), result.duration_s, result.network_isolated)
    if result.killed_reason in {"memory"}:
        verdict = "memory"
    elif result.killed_reason == "cpu":
        verdict = "timeout"
    else:
        verdict = "runtime_error"
    tail = (result.stderr.strip().splitlines() or [""])[-1]
    detail = f"exited with code {result.returncode} before the tests finished"
    if result.killed_reason:
        detail += f" ({result.killed_reason})"
    if tail:
        detail += f": {tail[:300]}"
    return ExecutionResult(verdict, detail, "", result.duration_s, result.network_isolated)
