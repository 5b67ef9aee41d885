"""Validation on a scratch copy: applies, syntax (ast / tree-sitter), new ruff findings only, sandboxed tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistant.patch.changes import FileChange
from assistant.patch.scratch import ScratchCopy, repo_files
from assistant.patch.validate import (
    LintFinding,
    has_syntax_checker,
    new_findings,
    ruff_findings,
    syntax_errors,
    validate_changes,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("import os\n\n\ndef total(xs):\n    return sum(xs)\n")
    (root / "test_calc.py").write_text("from pkg.calc import total\n\n\ndef test_total():\n"
                                       "    assert total([1, 2]) == 3\n")
    (root / "web.ts").write_text("export function add(a: number, b: number): number {\n  return a + b;\n}\n")
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "big.txt").write_text("x")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def _change(repo: Path, path: str, new: str) -> FileChange:
    target = repo / path
    return FileChange(path, target.read_bytes() if target.exists() else None, new.encode())


def test_syntax_python_and_tree_sitter_languages() -> None:
    assert syntax_errors("a.py", b"def f(:\n") and "a.py:1" in syntax_errors("a.py", b"def f(:\n")[0]
    assert syntax_errors("a.py", b"x = 1\n") == []
    assert syntax_errors("a.ts", b"export function f( {\n") != []
    assert syntax_errors("a.ts", b"export const x: number = 1;\n") == []
    assert syntax_errors("main.go", b"package main\nfunc main() {\n") != []
    assert syntax_errors("main.go", b"package main\nfunc main() {}\n") == []
    assert syntax_errors("lib.rs", b"fn main() { let x = ; }\n") != []
    assert has_syntax_checker("a.tsx") and has_syntax_checker("A.java") and not has_syntax_checker("x.toml")


def test_new_findings_are_a_multiset_difference_ignoring_line_moves() -> None:
    before = [LintFinding("a.py", 1, "F401", "`os` imported but unused")]
    after = [LintFinding("a.py", 5, "F401", "`os` imported but unused"),
             LintFinding("a.py", 9, "F821", "Undefined name `y`")]
    added, fixed = new_findings(before, after)
    assert [f.code for f in added] == ["F821"] and fixed == 0
    added, fixed = new_findings(after, before)
    assert added == [] and fixed == 1


def test_ruff_runs_on_touched_python_files(repo: Path) -> None:
    findings = ruff_findings(repo, ["pkg/calc.py", "web.ts", "missing.py"])
    assert findings is not None
    assert [(f.path, f.code) for f in findings] == [("pkg/calc.py", "F401")]


def test_scratch_copy_is_a_copy_without_git_or_ignored_files(repo: Path) -> None:
    files = repo_files(repo)
    assert "pkg/calc.py" in files and not any(f.startswith(("ignored/", ".git/")) for f in files)
    with ScratchCopy(repo, files) as scratch:
        assert scratch.root != repo
        scratch.write([_change(repo, "pkg/calc.py", "x = 2\n")])
        assert (scratch.root / "pkg" / "calc.py").read_text() == "x = 2\n"
        assert not (scratch.root / ".git").exists()
        root = scratch.root
    assert not root.exists()
    assert (repo / "pkg" / "calc.py").read_text().startswith("import os")


def test_lint_clean_candidate_only_new_findings_count(repo: Path) -> None:
    original = (repo / "pkg" / "calc.py").read_text()
    fixed = original.replace("return sum(xs)", "return sum(xs, 0)")
    result = validate_changes(repo, [_change(repo, "pkg/calc.py", fixed)])
    assert result.applies and result.syntax_ok and result.lint_available
    assert result.new_findings == [] and result.lint_clean  # the old unused `os` does not count
    broken_lint = original.replace("return sum(xs)", "return sum(ys)")
    result = validate_changes(repo, [_change(repo, "pkg/calc.py", broken_lint)])
    assert result.applies and not result.lint_clean
    assert [f.code for f in result.new_findings] == ["F821"]
    assert (repo / "pkg" / "calc.py").read_text() == original  # the user's tree is untouched


def test_syntax_error_candidate_does_not_run_tests(repo: Path) -> None:
    result = validate_changes(repo, [_change(repo, "web.ts", "export function add(a: number {\n")],
                              test_cmd="exit 0")
    assert result.applies and result.syntax_errors and result.tests is None


def test_stale_candidate_does_not_apply(repo: Path) -> None:
    change = FileChange("pkg/calc.py", b"something else\n", b"x = 1\n")
    result = validate_changes(repo, [change])
    assert not result.applies and "changed since" in (result.apply_error or "")


@pytest.mark.slow
def test_test_command_pass_fail_and_timeout_in_the_sandbox(repo: Path) -> None:
    import sys

    good = (repo / "pkg" / "calc.py").read_text().replace("return sum(xs)", "return sum(xs, 0)")
    bad = (repo / "pkg" / "calc.py").read_text().replace("return sum(xs)", "return sum(xs) + 1")
    cmd = f"{sys.executable} -m pytest -q -p no:cacheprovider test_calc.py"
    passed = validate_changes(repo, [_change(repo, "pkg/calc.py", good)], test_cmd=cmd, test_timeout_s=60)
    assert passed.tests is not None and passed.tests.passed, passed.tests
    failed = validate_changes(repo, [_change(repo, "pkg/calc.py", bad)], test_cmd=cmd, test_timeout_s=60)
    assert failed.tests is not None and not failed.tests.passed and failed.tests.returncode == 1
    assert "assert 4 == 3" in failed.tests.output_tail
    slow = validate_changes(repo, [_change(repo, "pkg/calc.py", good)], test_cmd="sleep 30",
                            test_timeout_s=1.5)
    assert slow.tests is not None and slow.tests.timed_out and not slow.tests.passed
    assert slow.tests.duration_s < 10
    hungry = validate_changes(
        repo, [_change(repo, "pkg/calc.py", good)],
        test_cmd=f"{sys.executable} -c \"x = bytearray(800 * 1024 * 1024)\"", test_timeout_s=30, memory_mb=300)
    assert hungry.tests is not None and not hungry.tests.passed and hungry.tests.killed_reason == "memory"


def test_pre_existing_syntax_error_does_not_count_against_a_patch(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    (root / "half.py").write_text("def f(:\n    pass\nx = 1\n")
    change = FileChange("half.py", (root / "half.py").read_bytes(), b"def f(:\n    pass\nx = 2\n")
    result = validate_changes(root, [change])
    assert result.applies and result.syntax_errors == [] and result.syntax_checked == ["half.py"]


def test_new_typescript_file_with_error_is_caught(repo: Path) -> None:
    change = FileChange("ui/view.tsx", None, b"export const V = () => <div>{x</div>;\n")
    result = validate_changes(repo, [change])
    assert result.applies and result.syntax_errors and "ui/view.tsx" in result.syntax_errors[0]
