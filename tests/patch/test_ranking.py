"""Verdicts come only from validator results; ranking is tests-pass > lint-clean > applies > rejected."""

from __future__ import annotations

from pathlib import Path

from assistant.patch.candidate import (
    APPLIES,
    LINT_CLEAN,
    REJECTED,
    TESTS_PASS,
    Candidate,
    build_candidate,
    dedupe,
    judge,
    rank,
)
from assistant.patch.changes import FileChange
from assistant.patch.validate import LintFinding, TestOutcome, Validation


def _candidate(index: int, validation: Validation | None, *, rejection: str | None = None,
               lines: int = 1) -> Candidate:
    new = "".join(f"y{i}\n" for i in range(lines)).encode()
    changes = [] if rejection else [FileChange("a.py", b"x\n", new)]
    c = Candidate(index=index, raw=f"reply {index}", samples=[index], changes=changes, validation=validation,
                  rejection=rejection, rejection_kind="no-match" if rejection else None)
    return judge(c)


def _tests(passed: bool, *, timed_out: bool = False) -> TestOutcome:
    return TestOutcome("pytest", passed, 0 if passed else 1, timed_out, "timeout" if timed_out else None, 1.0,
                   "", True)


def test_verdicts_follow_the_validators() -> None:
    assert _candidate(1, None, rejection="edit 1 (a.py): SEARCH text not found").verdict == REJECTED
    assert _candidate(1, Validation(applies=False, apply_error="boom")).verdict == REJECTED
    syntax = _candidate(1, Validation(applies=True, syntax_errors=["a.py:1: invalid syntax"],
                                      syntax_checked=["a.py"]))
    assert syntax.verdict == APPLIES and any("syntax error" in r for r in syntax.reasons)
    lint = _candidate(1, Validation(applies=True, new_findings=[LintFinding("a.py", 1, "F821", "Undefined")]))
    assert lint.verdict == APPLIES and any("F821" in r for r in lint.reasons)
    no_ruff = _candidate(1, Validation(applies=True, lint_available=False))
    assert no_ruff.verdict == APPLIES and any("not available" in r for r in no_ruff.reasons)
    clean = _candidate(1, Validation(applies=True, syntax_checked=["a.py"]))
    assert clean.verdict == LINT_CLEAN
    failing = _candidate(1, Validation(applies=True, tests=_tests(False)))
    assert failing.verdict == LINT_CLEAN and any("tests failed" in r for r in failing.reasons)
    timeout = _candidate(1, Validation(applies=True, tests=_tests(False, timed_out=True)))
    assert timeout.verdict == LINT_CLEAN and any("timed out" in r for r in timeout.reasons)
    passing = _candidate(1, Validation(applies=True, tests=_tests(True)))
    assert passing.verdict == TESTS_PASS


def test_ranking_order_and_tie_breaks() -> None:
    rejected = _candidate(1, None, rejection="no match")
    applies = _candidate(2, Validation(applies=True, new_findings=[LintFinding("a.py", 1, "F401", "x")]))
    applies_two = _candidate(3, Validation(applies=True, new_findings=[LintFinding("a.py", 1, "F401", "x"),
                                                                      LintFinding("a.py", 2, "F401", "z")]))
    clean_big = _candidate(4, Validation(applies=True), lines=20)
    clean_small = _candidate(5, Validation(applies=True), lines=1)
    passing = _candidate(6, Validation(applies=True, tests=_tests(True)), lines=30)
    ranked = rank([rejected, applies_two, clean_big, applies, passing, clean_small])
    assert [c.index for c in ranked] == [6, 5, 4, 2, 3, 1]


def test_dedupe_merges_identical_changes_and_identical_garbage(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    reply = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    same_change_other_format = "--- a/a.py\n+++ b/a.py\n@@\n-x = 1\n+x = 2\n"
    garbage = "I am not sure."
    built = [build_candidate(i, r, tmp_path, "search-replace", ["a.py"], ["a.py"])
             for i, r in enumerate([reply, same_change_other_format, garbage, garbage + "\n"], 1)]
    merged = dedupe(built)
    assert [c.samples for c in merged] == [[1, 2], [3, 4]]
    assert merged[0].well_formed and not built[1].well_formed
    assert merged[1].verdict == REJECTED and "malformed" in (merged[1].rejection or "")
