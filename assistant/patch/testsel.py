"""Which tests judge a candidate: find how the repository runs its tests, pick the related ones, read results.

Without ``--test-cmd`` a patch is still checked against the repository's own
tests, but only the ones that can tell: running a whole suite per candidate
costs minutes, and unrelated failures say nothing about the patch.

- :func:`detect_runner` recognises pytest (``pytest.ini``, ``[tool.pytest…]`` in
  ``pyproject.toml``, ``[tool:pytest]`` in ``setup.cfg``, ``[pytest]`` in
  ``tox.ini``, a ``conftest.py``, or a ``tests`` folder when pytest is installed),
  unittest (Python test files without pytest), ``npm test`` (a real
  ``scripts.test`` in ``package.json``), ``go test`` (``go.mod``) and
  ``cargo test`` (``Cargo.toml``).
- :func:`select_tests` picks Python test files that import a touched module
  (directly, through a package that re-exports a touched name, or through up
  to :data:`MAX_IMPORT_DEPTH` modules in between), that reference a changed
  symbol, or that the issue names; each one carries the reason.  Go tests are
  selected per package; npm and cargo run their whole suite (they have no
  file-level selection we can trust).  The import graph comes from the
  index's symbol table (``reader.symbols()``); files the index does not know
  (a test added since indexing) are read with ``ast``.
- :class:`TestPlan` is the command for one selection and the parser of its
  per-test results (pytest's JUnit XML, unittest's ``-v`` lines, ``go test``'s
  package lines; otherwise one pseudo-test for the whole command).
"""

from __future__ import annotations

import ast
import configparser
import difflib
import importlib.util
import json
import re
import shlex
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.patch.changes import FileChange
from assistant.patch.scratch import ScratchCopy
from assistant.patch.validate import (
    FAILED,
    PASSED,
    SKIPPED,
    WHOLE_COMMAND,
    TestDelta,
    TestOutcome,
    Validation,
    compare,
    run_tests,
)

PYTEST, UNITTEST, NPM, GO, CARGO, CUSTOM = "pytest", "unittest", "npm", "go", "cargo", "custom"

JUNIT_FILE = ".repo-assistant-junit.xml"
MAX_IMPORT_DEPTH = 2  # test -> a -> b -> touched module
MAX_SELECTED = 40
MAX_PARSED_FILES = 5_000  # Python files read with ast when the index does not know them
MAX_PARSED_BYTES = 1_000_000
_TEST_NAME_RE = re.compile(r"(?:^|/)(?:test_[^/]*\.py|[^/]*_test\.py)$")
_ISSUE_TEST_RE = re.compile(r"\b(test_\w+)\b")
_ISSUE_FILE_RE = re.compile(r"[\w./-]*\b(?:test_\w+|\w+_test)\.py\b")


@dataclass(frozen=True)
class TestRunner:
    """How this repository runs its tests (``kind``), why we think so, and the interpreter for Python."""

    __test__ = False

    kind: str
    reason: str
    python: str = ""


@dataclass(frozen=True)
class SelectedTest:
    """A test file (or Go package, or the whole suite) chosen for a candidate, and why."""

    __test__ = False

    path: str
    why: str


# --------------------------------------------------------------------------- detection


def _python_for(repo: Path) -> str:
    """The repository's own virtualenv interpreter when it has one, else the one running us."""
    for name in (".venv", "venv", "env"):
        candidate = repo / name / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def _read_text(path: Path, limit: int | None = None) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1 if limit is not None else -1)
    except OSError:
        return ""
    if limit is not None and len(data) > limit:
        return ""  # too large to be worth parsing
    return data.decode("utf-8", "replace")


def _pytest_marker(repo: Path) -> str | None:
    """Where the repository says it uses pytest, or ``None``."""
    if (repo / "pytest.ini").is_file():
        return "pytest.ini"
    pyproject = _read_text(repo / "pyproject.toml")
    if pyproject:
        try:
            if "pytest" in tomllib.loads(pyproject).get("tool", {}):
                return "[tool.pytest.ini_options] in pyproject.toml"
        except tomllib.TOMLDecodeError:
            pass
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        text = _read_text(repo / name)
        if text:
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            if parser.has_section(section):
                return f"[{section}] in {name}"
    for conftest in ("conftest.py", "tests/conftest.py", "test/conftest.py"):
        if (repo / conftest).is_file():
            return conftest
    return None


def _has_python_tests(files: Iterable[str]) -> bool:
    return any(_is_python_test(f) for f in files)


def _is_python_test(path: str) -> bool:
    return path.endswith(".py") and bool(_TEST_NAME_RE.search(path))


def detect_runner(repo: Path, files: Sequence[str]) -> TestRunner | None:
    """The test runner this repository uses, from its configuration files; ``None`` when none is found."""
    python = _python_for(repo)
    marker = _pytest_marker(repo)
    if marker is not None:
        return TestRunner(PYTEST, f"pytest ({marker})", python)
    if _has_python_tests(files):
        own = python != sys.executable or importlib.util.find_spec("pytest") is not None
        if own and any(PurePosixPath(f).parts[0] in ("tests", "test") for f in files if _is_python_test(f)):
            return TestRunner(PYTEST, "pytest (a tests folder with test_*.py files)", python)
        return TestRunner(UNITTEST, "unittest (test_*.py files, no pytest configuration)", python)
    package = _read_text(repo / "package.json")
    if package:
        try:
            script = (json.loads(package).get("scripts") or {}).get("test", "")
        except (ValueError, AttributeError):
            script = ""
        if script and "no test specified" not in script:
            return TestRunner(NPM, f"npm test (package.json: {script[:60]})")
    if (repo / "go.mod").is_file():
        return TestRunner(GO, "go test (go.mod)")
    if (repo / "Cargo.toml").is_file():
        return TestRunner(CARGO, "cargo test (Cargo.toml)")
    return None


# --------------------------------------------------------------------------- the import graph


def module_name(repo: Path, path: str) -> str | None:
    """The dotted module a Python file is imported as: its path below the first folder that is not a package."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return None
    parts = [pure.stem] if pure.stem != "__init__" else []
    parent = pure.parent
    while parent.parts and (repo / parent / "__init__.py").is_file():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts) or None


def _resolve_relative(module: str, importer: str | None) -> str:
    """``from .x import y`` inside package ``a.b`` reads as ``a.b.x``."""
    if not module.startswith(".") or importer is None:
        return module
    dots = len(module) - len(module.lstrip("."))
    base = importer.split(".")[: max(0, len(importer.split(".")) - dots)]
    rest = module.lstrip(".")
    return ".".join([*base, rest] if rest else base)


def _ast_symbols(text: str) -> tuple[list[str], set[str], set[str]]:
    """Imports (as the index records them: module, then module.name), referenced and defined names."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [], set(), set()
    imports: list[str] = []
    names: set[str] = set()
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import):
            imports.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            imports.append(module)
            sep = "" if module.endswith(".") else "."
            imports.extend(f"{module}{sep}{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return imports, names, defined


@dataclass
class _Graph:
    """Per Python file: its module name, what it imports (resolved) and the names it references."""

    module_of: dict[str, str] = field(default_factory=dict)
    path_of: dict[str, str] = field(default_factory=dict)
    imports: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    defines: dict[str, set[str]] = field(default_factory=dict)


def _build_graph(root: Path, files: Sequence[str], symbols: Mapping[str, Any] | None) -> _Graph:
    graph = _Graph()
    symbols = symbols or {}
    parsed = 0
    for path in files:
        if not path.endswith(".py"):
            continue
        module = module_name(root, path)
        if module:
            graph.module_of[path] = module
            graph.path_of.setdefault(module, path)
        known = symbols.get(path)
        if known is not None:
            raw_imports = list(known.imports)
            graph.names[path] = set(known.references)
            graph.defines[path] = {d.name for d in known.definitions}
        elif parsed < MAX_PARSED_FILES:  # not in the index (or no index): read it
            parsed += 1
            raw_imports, graph.names[path], graph.defines[path] = _ast_symbols(_read_text(root / path,
                                                                                          MAX_PARSED_BYTES))
        else:
            continue
        graph.imports[path] = [_resolve_relative(i, module) for i in raw_imports]
    return graph


def _imports_module(imports: Sequence[str], module: str) -> str | None:
    """The import that brings in ``module`` (itself, or ``from package import module``)."""
    for item in imports:
        if item == module:
            return item
    return None


def _reexports(imports: Sequence[str], module: str, names: set[str]) -> str | None:
    """``from package import Name`` where ``package`` is a parent of ``module`` and ``Name`` is defined there."""
    for item in imports:
        head, _, name = item.rpartition(".")
        if head and name in names and module.startswith(head + "."):
            return item
    return None


# --------------------------------------------------------------------------- selection


def changed_symbols(change: FileChange, definitions: Sequence[Any] | None = None) -> list[str]:
    """Names of the definitions whose lines the change edits (from the index, else from ``ast``)."""
    if change.old is None:
        return []
    old = change.old.decode("utf-8", "replace").splitlines()
    new = change.new.decode("utf-8", "replace").splitlines()
    edited: list[tuple[int, int]] = []
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            edited.append((i1 + 1, max(i1 + 1, i2)))
    spans: list[tuple[str, int, int]] = []
    if definitions:
        spans = [(d.name, d.start_line, d.end_line) for d in definitions]
    elif change.path.endswith(".py"):
        try:
            tree = ast.parse(change.old)
        except (SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                spans.append((node.name, node.lineno, node.end_lineno or node.lineno))
    touched = [name for name, start, end in spans if any(s <= end and e >= start for s, e in edited)]
    return list(dict.fromkeys(touched))


def _issue_named(issue: str, tests: Sequence[str], graph: _Graph) -> dict[str, str]:
    """Test files the issue names, by path, file name or a test function defined in them."""
    found: dict[str, str] = {}
    mentioned_files = {PurePosixPath(m).name for m in _ISSUE_FILE_RE.findall(issue)}
    mentioned_tests = set(_ISSUE_TEST_RE.findall(issue))
    for path in tests:
        name = PurePosixPath(path).name
        if name in mentioned_files:
            found[path] = f"named in the issue ({name})"
            continue
        hit = sorted(mentioned_tests & graph.defines.get(path, set()))
        if hit:
            found[path] = f"defines {hit[0]}, which the issue names"
    return found


def select_python_tests(root: Path, files: Sequence[str], changes: Sequence[FileChange], issue: str,
                        symbols: Mapping[str, Any] | None = None) -> list[SelectedTest]:
    """Python test files related to ``changes`` or named in ``issue``, most direct first, each with its reason."""
    graph = _build_graph(root, files, symbols)
    tests = [f for f in files if _is_python_test(f)]
    reasons: dict[str, tuple[int, str]] = {}

    def note(path: str, rank: int, why: str) -> None:
        if path not in reasons or reasons[path][0] > rank:
            reasons[path] = (rank, why)

    for path, why in _issue_named(issue, tests, graph).items():
        note(path, 0, why)
    for change in changes:
        if _is_python_test(change.path):
            note(change.path, 0, "the patch edits this test file")
        module = graph.module_of.get(change.path)
        defs = list(getattr((symbols or {}).get(change.path), "definitions", ()) or ())
        touched_names = changed_symbols(change, defs)
        defined = graph.defines.get(change.path) or {d.name for d in defs}
        if module is None:
            continue
        # reverse import graph walk: who imports the touched module, and who imports them
        frontier: dict[str, str] = {module: module}
        seen = {module}
        for depth in range(MAX_IMPORT_DEPTH + 1):
            following: dict[str, str] = {}
            for path, imports in graph.imports.items():
                importer = graph.module_of.get(path)
                for target, chain in frontier.items():
                    direct = _imports_module(imports, target)
                    via = None if direct else _reexports(imports, target, defined if target == module else set())
                    if not (direct or via):
                        continue
                    what = f"imports {via}" if via else f"imports {chain}"
                    if path in tests:
                        note(path, 1 + depth, what)
                    elif importer and importer not in seen:
                        seen.add(importer)
                        following[importer] = f"{importer}, which imports {chain}"
                    break
            frontier = following
            if not frontier:
                break
        for path in tests:
            hit = [n for n in touched_names if len(n) > 3 and n in graph.names.get(path, set())]
            if hit:
                note(path, 1, f"references {hit[0]}, which the patch changes")
    ordered = sorted(reasons.items(), key=lambda item: (item[1][0], item[0]))
    return [SelectedTest(path, why) for path, (_rank, why) in ordered[:MAX_SELECTED]]


def _go_packages(changes: Sequence[FileChange], files: Sequence[str]) -> list[SelectedTest]:
    dirs = {str(PurePosixPath(c.path).parent) for c in changes if c.path.endswith(".go")}
    have_tests = {str(PurePosixPath(f).parent) for f in files if f.endswith("_test.go")}
    return [SelectedTest("./" + d if d != "." else ".", "the package holds a changed file")
            for d in sorted(dirs & have_tests)]


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class TestPlan:
    """One selection and the shell command that runs it; :meth:`run` returns per-test results."""

    __test__ = False

    runner: TestRunner
    selected: tuple[SelectedTest, ...]
    command: str

    def run(self, root: Path, *, timeout_s: float, memory_mb: int) -> TestOutcome:
        """Run the command in ``root`` (sandboxed) and attach the per-test results."""
        junit = root / JUNIT_FILE
        junit.unlink(missing_ok=True)
        outcome = run_tests(root, self.command, timeout_s=timeout_s, memory_mb=memory_mb)
        results = parse_results(self.runner.kind, root, outcome)
        return replace(outcome, results=results)

    def describe(self) -> list[str]:
        return [f"{t.path}: {t.why}" for t in self.selected]


def parse_results(kind: str, root: Path, outcome: TestOutcome) -> dict[str, str]:
    """Per test: passed, failed or skipped; one entry for the whole command when nothing finer is known."""
    results: dict[str, str] = {}
    if kind == PYTEST and not outcome.timed_out:
        try:
            tree = ET.parse(root / JUNIT_FILE)
        except (OSError, ET.ParseError):
            tree = None
        for case in tree.iter("testcase") if tree is not None else ():
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            tags = {child.tag for child in case}
            results[name] = FAILED if tags & {"failure", "error"} else SKIPPED if "skipped" in tags else PASSED
    elif kind == UNITTEST and not outcome.timed_out:
        for match in re.finditer(r"^(\w+) \(([\w.]+)\)\s*(?:\n[^\n]*?)?\.\.\. (ok|FAIL|ERROR|skipped)",
                                 outcome.output_tail, re.MULTILINE):
            verdict = match.group(3)
            results[f"{match.group(2)}::{match.group(1)}"] = (
                PASSED if verdict == "ok" else SKIPPED if verdict == "skipped" else FAILED)
    elif kind == GO and not outcome.timed_out:
        for match in re.finditer(r"^(ok|FAIL|---\s+FAIL:)\s+(\S+)", outcome.output_tail, re.MULTILINE):
            if match.group(1) in ("ok", "FAIL"):
                results[match.group(2)] = PASSED if match.group(1) == "ok" else FAILED
    if not results:
        results[WHOLE_COMMAND] = PASSED if outcome.passed else FAILED
    return results


def custom_plan(command: str) -> TestPlan:
    """``--test-cmd``: the user's command, judged by its exit status."""
    return TestPlan(TestRunner(CUSTOM, "--test-cmd"), (SelectedTest(WHOLE_COMMAND, "given with --test-cmd"),),
                    command)


def plan_tests(runner: TestRunner, root: Path, files: Sequence[str], changes: Sequence[FileChange], issue: str,
               symbols: Mapping[str, Any] | None = None) -> TestPlan | None:
    """The tests for a candidate's ``changes`` and the command that runs them; ``None``: nothing relevant."""
    if runner.kind in (PYTEST, UNITTEST):
        selected = select_python_tests(root, files, changes, issue, symbols)
        return plan_tests_for_paths(runner, selected) if selected else None
    if runner.kind == GO:
        packages = _go_packages(changes, files)
        if not packages:
            return None
        return TestPlan(runner, tuple(packages), "go test " + " ".join(shlex.quote(p.path) for p in packages))
    whole = (SelectedTest(WHOLE_COMMAND, f"{runner.kind} runs the whole suite (no per-file selection)"),)
    return TestPlan(runner, whole, "npm test --silent" if runner.kind == NPM else "cargo test --quiet")


def merge_plans(plans: Sequence[TestPlan]) -> TestPlan | None:
    """One plan covering every test of ``plans`` (for a single baseline run); ``None`` when empty."""
    if not plans:
        return None
    first = plans[0]
    if first.runner.kind not in (PYTEST, UNITTEST):
        return first
    merged: dict[str, SelectedTest] = {}
    for plan in plans:
        for test in plan.selected:
            merged.setdefault(test.path, test)
    return plan_tests_for_paths(first.runner, list(merged.values()))


def plan_tests_for_paths(runner: TestRunner, selected: Sequence[SelectedTest]) -> TestPlan:
    """The command for an explicit list of Python test files."""
    python = shlex.quote(runner.python or sys.executable)
    paths = " ".join(shlex.quote(t.path) for t in selected)
    if runner.kind == PYTEST:
        command = f"{python} -m pytest -q -p no:cacheprovider --junitxml={JUNIT_FILE} -o junit_family=xunit1 {paths}"
    else:
        command = f"{python} -m unittest -v " + " ".join(shlex.quote(t.path[:-3].replace("/", ".")) for t in selected)
    return TestPlan(runner, tuple(selected), command)


# --------------------------------------------------------------------------- one patch run's tests


class TestSession:
    """The tests of one patch run: the runner, one plan per distinct selection, and each plan's baseline.

    The baseline is the plan run on an unpatched scratch copy, once per distinct
    command: it tells which selected tests failed before any change (never
    blamed on a candidate) and which passed (a candidate that breaks one has a
    regression).  A baseline that hangs disables that plan for every candidate:
    running it again per candidate would only cost another timeout each.
    """

    __test__ = False

    def __init__(self, repo: Path, files: Sequence[str], issue: str, *, test_cmd: str | None, enabled: bool,
                 symbols: Mapping[str, Any] | None, timeout_s: float, memory_mb: int,
                 progress: Callable[[str], None] | None = None) -> None:
        self.repo, self.files, self.issue, self.symbols = repo, list(files), issue, symbols
        self.timeout_s, self.memory_mb, self.progress = timeout_s, memory_mb, progress
        self.custom = custom_plan(test_cmd) if test_cmd else None
        self.runner: TestRunner | None = self.custom.runner if self.custom else None
        self.notes: list[str] = []
        self.baselines: dict[str, TestOutcome] = {}
        self.plans: dict[str, TestPlan] = {}
        if self.custom is None and not enabled:
            self.notes.append("tests turned off (--no-tests)")
        elif self.custom is None:
            self.runner = detect_runner(repo, self.files)
            if self.runner is None:
                self.notes.append("no test runner detected (no pytest/unittest tests, package.json test script, "
                                  "go.mod or Cargo.toml); candidates are judged without tests")

    def plan_for(self, changes: Sequence[FileChange]) -> TestPlan | None:
        """The plan for a candidate, with its baseline run; ``None`` when no test applies or the baseline hung."""
        if self.custom is not None:
            plan: TestPlan | None = self.custom
        elif self.runner is None:
            return None
        else:
            plan = plan_tests(self.runner, self.repo, self.files, changes, self.issue, self.symbols)
            if plan is None:
                return None
        assert plan is not None
        baseline = self.baseline(plan)
        return None if baseline.timed_out or baseline.killed_reason else plan

    def baseline(self, plan: TestPlan) -> TestOutcome:
        if plan.command not in self.baselines:
            if self.progress:
                self.progress(f"running {len(plan.selected)} selected test file(s) on the unpatched copy")
            with ScratchCopy(self.repo, self.files) as scratch:
                outcome = plan.run(scratch.root, timeout_s=self.timeout_s, memory_mb=self.memory_mb)
            self.baselines[plan.command] = outcome
            self.plans[plan.command] = plan
            if outcome.timed_out or outcome.killed_reason:
                why = "timed out" if outcome.timed_out else f"was killed ({outcome.killed_reason})"
                self.notes.append(f"the tests {why} after {outcome.duration_s:.1f}s on the unpatched copy, so "
                                  f"they were not run for the candidates: {plan.command}")
        return self.baselines[plan.command]

    def compare(self, plan: TestPlan, validation: Validation) -> None:
        """Record the candidate's before/after per test (after :func:`validate_changes` ran ``plan``)."""
        if validation.tests is not None:
            validation.test_delta = compare(self.baselines[plan.command].results, validation.tests.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runner": self.runner.kind if self.runner else None,
            "reason": self.runner.reason if self.runner else None,
            "runs": [{"command": command, "selection": [{"path": t.path, "why": t.why} for t in plan.selected],
                      "baseline": _outcome_dict(self.baselines[command])}
                     for command, plan in self.plans.items()],
            "notes": list(self.notes),
        }


def _outcome_dict(outcome: TestOutcome) -> dict[str, Any]:
    counts = {k: sum(1 for r in outcome.results.values() if r == k) for k in (PASSED, FAILED, SKIPPED)}
    return {"passed": outcome.passed, "returncode": outcome.returncode, "timed_out": outcome.timed_out,
            "killed_reason": outcome.killed_reason, "duration_s": round(outcome.duration_s, 3), "counts": counts,
            "results": dict(outcome.results)}


def delta_dict(delta: TestDelta | None) -> dict[str, list[str]] | None:
    return None if delta is None else {k: list(getattr(delta, k))
                                       for k in ("regressions", "fixed", "still_failing", "new_failing")}
