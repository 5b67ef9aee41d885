"""Task suites: our JSONL format, HumanEval's own format and MBPP, loaded into one :class:`Task`.

The format a team writes for its own suite is one JSON object per line::

    {"task_id": "billing/round", "prompt": "def round_price(x):\\n    \\"\\"\\"...\\"\\"\\"\\n",
     "test": "def check(f):\\n    assert f(1.005) == 1.01\\n", "entry_point": "round_price",
     "language": "python", "canonical_solution": "    return ...\\n"}

``test`` may define ``check(candidate)`` (HumanEval style), ``test_*`` functions
(pytest style) or be plain ``assert`` statements.  When ``prompt`` is code that
ends in the ``def`` of ``entry_point`` the model completes that function; when it
is prose the model writes the code from scratch (MBPP style).  HumanEval files
(``.jsonl`` or ``.jsonl.gz``) load as they are; MBPP rows (``text``/``prompt``,
``code``, ``test_list``) are recognised and converted.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.errors import UsageError

BUNDLED_DIR = Path(__file__).resolve().parent / "data"
HUMANEVAL_BUNDLED = BUNDLED_DIR / "HumanEval.jsonl.gz"
SUPPORTED_LANGUAGES = ("python",)


@dataclass
class Task:
    """One problem: what the model sees and how its answer is checked."""

    task_id: str
    prompt: str
    test: str
    entry_point: str | None = None
    language: str = "python"
    canonical_solution: str | None = None
    kind: str = "function"  # "function": complete the def in prompt; "program": write code from prose

    def reference_program(self) -> str | None:
        """The prompt plus its canonical solution, when the task ships one."""
        if self.canonical_solution is None:
            return None
        if self.kind == "function":
            return self.prompt + self.canonical_solution
        return self.canonical_solution


def _open_text(path: Path) -> list[str]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return handle.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise UsageError(f"task file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"cannot read task file {path}: {exc}") from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (plain or gzipped); a bad line is an error naming the line."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(_open_text(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: each line must be a JSON object")
        rows.append(row)
    if not rows:
        raise UsageError(f"{path}: no tasks in the file")
    return rows


_FUNC_NAME = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_ASSERT_CALL = re.compile(r"assert\s+(?:not\s+)?\(?\s*(?:[\w.]+\()*\s*([A-Za-z_]\w*)\s*\(")


def _mbpp_task(row: dict[str, Any]) -> Task:
    text = str(row.get("prompt") or row.get("text") or "")
    tests = [str(t) for t in row.get("test_list", [])]
    code = str(row.get("code", "")) or None
    entry = None
    if code:
        names = _FUNC_NAME.findall(code)
        called = {m.group(1) for t in tests for m in _ASSERT_CALL.finditer(t)}
        entry = next((n for n in names if n in called), names[-1] if names else None)
    imports = "\n".join(str(i) for i in row.get("test_imports", []))
    test = (imports + "\n" if imports else "") + "\n".join(tests) + "\n"
    prompt = f"{text}\nYour code should pass these tests:\n" + "\n".join(tests[:3])
    return Task(task_id=f"Mbpp/{row['task_id']}", prompt=prompt, test=test, entry_point=entry,
                canonical_solution=code, kind="program")


def task_from_row(row: dict[str, Any], where: str) -> Task:
    """One row in any of the supported formats (see the module docstring)."""
    if "test_list" in row and "task_id" in row:
        return _mbpp_task(row)
    missing = [key for key in ("task_id", "prompt", "test") if not row.get(key) and row.get(key) != 0]
    if missing:
        raise UsageError(f"{where}: missing field(s) {', '.join(missing)} (need task_id, prompt, test)")
    language = str(row.get("language", "python")).lower()
    if language not in SUPPORTED_LANGUAGES:
        raise UsageError(f"{where}: language {language!r} is not supported yet (supported: python)")
    prompt = str(row["prompt"])
    entry = row.get("entry_point") or None
    kind = "function" if entry and re.search(rf"^\s*def\s+{re.escape(str(entry))}\s*\(", prompt, re.MULTILINE) \
        else "program"
    solution = row.get("canonical_solution")
    return Task(task_id=str(row["task_id"]), prompt=prompt, test=str(row["test"]),
                entry_point=str(entry) if entry else None, language=language,
                canonical_solution=str(solution) if solution is not None else None, kind=kind)


def load_tasks(path: Path, limit: int | None = None) -> list[Task]:
    """Every task in ``path`` (first ``limit`` of them); duplicate ids are an error."""
    rows = read_jsonl(path)
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        task = task_from_row(row, f"{path}: task {number}")
        if task.task_id in seen:
            raise UsageError(f"{path}: task id {task.task_id!r} appears twice")
        seen.add(task.task_id)
        tasks.append(task)
        if limit is not None and len(tasks) >= limit:
            break
    return tasks


def load_humaneval(path: Path | None = None, limit: int | None = None) -> list[Task]:
    """HumanEval's 164 problems (the bundled upstream file unless ``path`` is given)."""
    return load_tasks(path or HUMANEVAL_BUNDLED, limit=limit)
