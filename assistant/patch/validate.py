"""Validate a candidate on a scratch copy: applies, parses, adds no lint findings, passes the tests.

Each check reports what it found so the verdict can be traced back to it:

- **applies**: the changes were written into a fresh scratch copy and read back
  byte for byte;
- **syntax**: ``ast.parse`` for Python, tree-sitter error/missing nodes for the
  other languages with an installed grammar.  A file that already failed to
  parse before the patch does not count against it;
- **lint**: ``ruff check --select F`` (pyflakes rules) on the touched Python
  files, before and after; only findings the patch *adds* count (compared as
  a multiset of file, rule and message, so moved lines do not count as new);
- **tests**: the ``--test-cmd`` run through ``/bin/sh -c`` in the scratch copy
  by :func:`assistant.sandbox.run_sandboxed` (timeout, CPU and memory limits,
  scrubbed environment, no network where possible).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from assistant.patch.changes import FileChange
from assistant.patch.scratch import ScratchCopy

if TYPE_CHECKING:
    from assistant.patch.testsel import TestPlan

# extension -> (grammar module, function returning the language pointer)
_TREE_SITTER: dict[str, tuple[str, str]] = {
    ".js": ("tree_sitter_javascript", "language"), ".mjs": ("tree_sitter_javascript", "language"),
    ".cjs": ("tree_sitter_javascript", "language"), ".jsx": ("tree_sitter_javascript", "language"),
    ".ts": ("tree_sitter_typescript", "language_typescript"), ".mts": ("tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx"),
    ".go": ("tree_sitter_go", "language"), ".rs": ("tree_sitter_rust", "language"),
    ".java": ("tree_sitter_java", "language"),
    ".c": ("tree_sitter_c", "language"), ".h": ("tree_sitter_c", "language"),
    ".cc": ("tree_sitter_cpp", "language"), ".cpp": ("tree_sitter_cpp", "language"),
    ".cxx": ("tree_sitter_cpp", "language"), ".hpp": ("tree_sitter_cpp", "language"),
    ".hh": ("tree_sitter_cpp", "language"), ".rb": ("tree_sitter_ruby", "language"),
}
PYTHON_SUFFIXES = (".py", ".pyi")
MAX_SYNTAX_ERRORS = 3


@dataclass
class LintFinding:
    """One ruff finding in a touched file."""

    path: str
    line: int
    code: str
    message: str

    def key(self) -> tuple[str, str, str]:
        return (self.path, self.code, self.message)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


@dataclass
class TestOutcome:
    """How the test command ended on the patched copy."""

    __test__ = False  # not a pytest test class

    command: str
    passed: bool
    returncode: int
    timed_out: bool
    killed_reason: str | None
    duration_s: float
    output_tail: str
    network_isolated: bool
    results: dict[str, str] = field(default_factory=dict)  # per test: passed, failed or skipped


PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
WHOLE_COMMAND = "(the whole command)"  # the one result of a command without per-test output


@dataclass
class TestDelta:
    """A candidate's test results against the baseline of the unpatched copy."""

    __test__ = False

    regressions: list[str] = field(default_factory=list)  # passed before, fail now
    fixed: list[str] = field(default_factory=list)  # failed before, pass now
    still_failing: list[str] = field(default_factory=list)  # failed before too: not blamed on the patch
    new_failing: list[str] = field(default_factory=list)  # not in the baseline (new or renamed) and failing


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> TestDelta:
    """Which tests the patch broke, fixed, left failing, or added failing."""
    delta = TestDelta()
    for name, now in after.items():
        was = before.get(name)
        if now == FAILED:
            if was == PASSED:
                delta.regressions.append(name)
            elif was == FAILED:
                delta.still_failing.append(name)
            else:
                delta.new_failing.append(name)
        elif now == PASSED and was == FAILED:
            delta.fixed.append(name)
    if FAILED in after.values():  # a collection error hides the tests it broke: those count too
        delta.regressions.extend(n for n, was in before.items() if was == PASSED and n not in after)
    return delta


@dataclass
class Validation:
    """Every check's outcome for one candidate (``None``: the check did not run)."""

    applies: bool = False
    apply_error: str | None = None
    syntax_errors: list[str] = field(default_factory=list)
    syntax_checked: list[str] = field(default_factory=list)  # files whose language has a parser
    lint_available: bool = True
    new_findings: list[LintFinding] = field(default_factory=list)
    fixed_findings: int = 0
    tests: TestOutcome | None = None
    test_selection: list[tuple[str, str]] = field(default_factory=list)  # (test, why it was chosen)
    test_delta: TestDelta | None = None  # against the baseline; None: no baseline (--test-cmd)

    @property
    def syntax_ok(self) -> bool:
        return self.applies and not self.syntax_errors

    @property
    def lint_clean(self) -> bool:
        return self.syntax_ok and not self.new_findings

    @property
    def tests_passed(self) -> bool:
        return self.tests is not None and self.tests.passed


# --------------------------------------------------------------------------- syntax


@functools.lru_cache(maxsize=16)
def _parser_for(suffix: str) -> Any | None:
    spec = _TREE_SITTER.get(suffix)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        language = tree_sitter.Language(getattr(module, spec[1])())
        return tree_sitter.Parser(language)
    except (ImportError, AttributeError, ValueError):
        return None


def has_syntax_checker(path: str) -> bool:
    """Whether :func:`syntax_errors` can judge this file's language."""
    suffix = PurePosixPath(path).suffix.lower()
    return suffix in PYTHON_SUFFIXES or _parser_for(suffix) is not None


def syntax_errors(path: str, data: bytes) -> list[str]:
    """Syntax errors in a file's content (empty: it parses, or no parser for its language)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in PYTHON_SUFFIXES:
        try:
            ast.parse(data, filename=path)
        except SyntaxError as exc:
            return [f"{path}:{exc.lineno or 0}: {exc.msg}"]
        except ValueError as exc:  # NUL bytes and similar
            return [f"{path}: {exc}"]
        return []
    parser = _parser_for(suffix)
    if parser is None:
        return []
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return []
    found: list[str] = []
    stack = [tree.root_node]
    while stack and len(found) < MAX_SYNTAX_ERRORS:
        node = stack.pop()
        if node.is_missing:
            found.append(f"{path}:{node.start_point[0] + 1}: missing {node.type!r}")
        elif node.is_error:
            snippet = data[node.start_byte:node.end_byte].decode("utf-8", "replace").strip().splitlines()
            near = f" near {snippet[0][:40]!r}" if snippet else ""
            found.append(f"{path}:{node.start_point[0] + 1}: syntax error{near}")
        elif node.has_error:
            stack.extend(reversed(node.children))
    return found or [f"{path}: syntax error"]


# --------------------------------------------------------------------------- lint


def ruff_command() -> list[str] | None:
    """How to run ruff: the binary beside this interpreter, on PATH, or ``python -m ruff``."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return [str(beside)]
    on_path = shutil.which("ruff")
    if on_path:
        return [on_path]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    return None


def ruff_findings(root: Path, paths: Sequence[str]) -> list[LintFinding] | None:
    """Pyflakes findings (``--select F``) of ``paths`` under ``root``; ``None`` when ruff is missing.

    ``--isolated`` ignores the repository's own ruff configuration so that the
    verdict depends only on the rules named here.
    """
    command = ruff_command()
    files = [p for p in paths if p.endswith(PYTHON_SUFFIXES) and (root / p).is_file()]
    if command is None:
        return None
    if not files:
        return []
    try:
        result = subprocess.run(
            [*command, "check", "--isolated", "--no-cache", "--select", "F", "--output-format", "json",
             "--exit-zero", "--", *files],
            cwd=root, capture_output=True, text=True, timeout=120, check=False,
        )
        records = json.loads(result.stdout or "[]")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return None
    findings = []
    for record in records:
        filename = Path(record.get("filename") or "")
        try:
            rel = filename.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = filename.as_posix()
        findings.append(LintFinding(
            path=rel, line=int((record.get("location") or {}).get("row") or 0),
            code=record.get("code") or "syntax", message=str(record.get("message") or ""),
        ))
    return findings


def new_findings(before: Sequence[LintFinding], after: Sequence[LintFinding]) -> tuple[list[LintFinding], int]:
    """Findings in ``after`` beyond those in ``before`` (by file, rule, message), and how many went away."""
    budget = Counter(f.key() for f in before)
    added: list[LintFinding] = []
    for finding in after:
        if budget[finding.key()] > 0:
            budget[finding.key()] -= 1
        else:
            added.append(finding)
    return added, sum(budget.values())


# --------------------------------------------------------------------------- tests


def run_tests(root: Path, command: str, *, timeout_s: float, memory_mb: int) -> TestOutcome:
    """Run ``command`` with ``/bin/sh -c`` in ``root`` inside the sandbox."""
    from assistant.sandbox import SandboxLimits, run_sandboxed

    limits = SandboxLimits(timeout_s=timeout_s, cpu_s=timeout_s, memory_mb=memory_mb, max_processes=256,
                           max_file_mb=256, network=False, max_output_bytes=200_000)
    result = run_sandboxed(["/bin/sh", "-c", command], cwd=root, limits=limits,
                           env={"REPO_ASSISTANT_SCRATCH": str(root)})
    output = (result.stdout + ("\n" if result.stdout and result.stderr else "") + result.stderr).strip()
    return TestOutcome(
        command=command,
        passed=result.returncode == 0 and not result.timed_out,
        returncode=result.returncode,
        timed_out=result.timed_out,
        killed_reason=result.killed_reason,
        duration_s=result.duration_s,
        output_tail=output[-2000:],
        network_isolated=result.network_isolated,
    )


# --------------------------------------------------------------------------- all checks


def validate_changes(
    repo: Path,
    changes: Sequence[FileChange],
    *,
    files: Sequence[str] | None = None,
    test_cmd: str | None = None,
    test_timeout_s: float = 300.0,
    memory_mb: int = 4096,
    test_plan: TestPlan | None = None,
) -> Validation:
    """Run every check for one candidate in a fresh scratch copy of ``repo``.

    ``files`` is the repository's file list (computed once for all candidates).
    Tests run only when the patch applies and parses: a syntax error is already
    a verdict, and running broken code wastes the user's time.  ``test_plan``
    (selected tests with per-test results) takes the place of ``test_cmd``.
    """
    result = Validation()
    touched = [c.path for c in changes]
    with ScratchCopy(repo, files) as scratch:
        for change in changes:
            if scratch.read(change.path) != change.old:
                result.apply_error = f"{change.path}: the file changed since the candidate was built"
                return result
        before = ruff_findings(scratch.root, touched)
        try:
            scratch.write(changes)
        except OSError as exc:
            result.apply_error = f"cannot write into the scratch copy: {exc.strerror or exc}"
            return result
        mismatched = [c.path for c in changes if scratch.read(c.path) != c.new]
        if mismatched:
            result.apply_error = f"{mismatched[0]}: content differs after writing"
            return result
        result.applies = True
        for change in changes:
            if not has_syntax_checker(change.path):
                continue
            result.syntax_checked.append(change.path)
            errors = syntax_errors(change.path, change.new)
            if errors and change.old is not None and syntax_errors(change.path, change.old):
                continue  # it did not parse before the patch either
            result.syntax_errors.extend(errors)
        after = ruff_findings(scratch.root, touched)
        if before is None or after is None:
            result.lint_available = False
        else:
            added, fixed = new_findings(before, after)
            result.new_findings = [f for f in added if f.code != "syntax"]
            result.fixed_findings = fixed
        if test_plan is not None and result.syntax_ok:
            result.test_selection = [(t.path, t.why) for t in test_plan.selected]
            result.tests = test_plan.run(scratch.root, timeout_s=test_timeout_s, memory_mb=memory_mb)
        elif test_cmd and result.syntax_ok:
            result.tests = run_tests(scratch.root, test_cmd, timeout_s=test_timeout_s, memory_mb=memory_mb)
    return result
