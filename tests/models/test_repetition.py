"""The loop guard: real loops of the embedded model are stopped, real prose and code are not.

The two looping answers are what SmolLM2-135M streamed (greedy) for questions about
``sample_repo``; the false-positive checks feed whole documents and source files, as an
answer would stream them, and expect no stop.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from assistant.models.repetition import LoopGuard

ROOT = Path(__file__).resolve().parents[2]

RESERVATIONS = (
    "The code in the question is a bit unclear. The code is using a `transaction` to create a cursor and execute a "
    "`reserve` operation. However, the code is not very clear about what is happening.\n\n" + (
        "The code is using a `transaction` to create a cursor and execute a `reserve` operation. However, the code "
        "is not very clear about what is happening.\n\n") * 4)
RESERVATIONS_KEPT = (
    "The code in the question is a bit unclear. The code is using a `transaction` to create a cursor and execute a "
    "`reserve` operation. However, the code is not very clear about what is happening.")

INDENT = (
    "The `json.dumps` function in `shopcore.cli.py` is used to serialize a JSON object to a string. The `indent` "
    "argument is used to indent the JSON string.\n\nThe `indent` argument is used to indent the JSON string.\n\n"
    "The `json.dumps` function is used to serialize the JSON object to a string.\n\n"
    + "The `indent` argument is used to indent the JSON string.\n\n" * 6)
INDENT_KEPT = (
    "The `json.dumps` function in `shopcore.cli.py` is used to serialize a JSON object to a string. The `indent` "
    "argument is used to indent the JSON string.\n\nThe `indent` argument is used to indent the JSON string.\n\n"
    "The `json.dumps` function is used to serialize the JSON object to a string.\n\n"
    "The `indent` argument is used to indent the JSON string.")

# A cycle of three paragraphs (the same model at another context size): two cycles are enough.
CYCLE = ("The `indent` argument is used to specify the number of spaces to indent the JSON string.\n\n" * 2
         + "The `json.dumps` function is a built-in Python function that converts a Python object to a JSON "
           "string. It uses the `indent` argument to specify the number of spaces to indent the JSON string.\n\n")


def _stream(text: str, piece: int = 4) -> tuple[LoopGuard, int | None]:
    """Feed ``text`` in pieces; returns the guard and how much had been fed when it stopped (None: never)."""
    guard = LoopGuard()
    for start in range(0, len(text), piece):
        if guard.feed(text[start:start + piece]):
            return guard, start + piece
    return guard, None


@pytest.mark.parametrize(("text", "kept"), [(RESERVATIONS, RESERVATIONS_KEPT), (INDENT, INDENT_KEPT)])
def test_the_embedded_models_loops_stop_early_and_keep_one_copy(text: str, kept: str) -> None:
    guard, stopped = _stream(text)
    assert stopped is not None and stopped < len(text) * 0.75  # well before the model would have ended
    assert guard.looping and guard.kept() == kept
    again, never = _stream(guard.kept())  # what is saved does not loop
    assert never is None and not again.looping


def test_a_long_cycle_stops_after_two_copies() -> None:
    text = "The `json.dumps` function in the `shopcore.api.py` file serializes data.\n\n" + CYCLE * 4
    guard, stopped = _stream(text)
    assert stopped is not None and stopped <= len(text) - 2 * len(CYCLE)
    assert guard.unit == len(CYCLE)
    assert guard.kept().endswith("indent the JSON string.") and guard.kept().count("built-in Python function") == 1


def test_a_short_loop_needs_many_repeats() -> None:
    guard, stopped = _stream("Answer: " + "the value " * 40, piece=3)
    assert stopped is not None and guard.unit == len("the value ")
    assert stopped >= 8 + 160  # the run had to cover MIN_RUN characters first
    assert guard.kept() == "Answer: the value"
    separators, never = _stream("Sections:\n" + "-------- \n" * 40)  # no letters or digits: not a loop
    assert never is None and not separators.looping


def _texts() -> list[tuple[str, str]]:
    """Prose (this project's documents) and code (sample_repo and stdlib packages, fenced as answers show it)."""
    texts = [(p.name, p.read_text()) for p in (ROOT / "README.md", ROOT / "ARCHITECTURE.md")]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted((ROOT / "sample_repo").rglob("*.py")) + sorted(
        p for package in ("json", "email", "unittest") for p in (stdlib / package).rglob("*.py"))
    texts += [(str(p), f"Here it is:\n\n```python\n{p.read_text(errors='replace')[:12000]}\n```\n") for p in sources]
    return texts


def test_real_documents_and_code_never_stop() -> None:
    texts = _texts()
    assert len(texts) > 100
    stopped = [(name, guard.text[guard.run_start:guard.run_start + 80]) for name, text in texts
               for guard, at in [_stream(text, piece=5)] if at is not None]
    assert stopped == []
