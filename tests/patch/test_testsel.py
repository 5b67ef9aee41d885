"""Test discovery and selection without --test-cmd: runners, reasons, baseline, regressions, hangs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.patch.candidate import LINT_CLEAN, TESTS_PASS
from assistant.patch.changes import FileChange
from assistant.patch.generate import PatchRequest, run_patch
from assistant.patch.testsel import (
    CARGO,
    GO,
    NPM,
    PYTEST,
    UNITTEST,
    changed_symbols,
    detect_runner,
    module_name,
    select_python_tests,
)
from assistant.patch.validate import FAILED, PASSED, compare
from base.config import Settings

PKG_CORE = "def total(prices):\n    return sum(prices) + 1\n\n\ndef count(prices):\n    return len(prices)\n"
TEST_CORE = "from shop.core import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
TEST_SERVICE = ("from shop.service import checkout\n\n\ndef test_checkout():\n    assert checkout([1]) == 1\n")
TEST_OTHER = "def test_other():\n    assert 1 + 1 == 2\n"
TEST_COUNT = "from shop.core import count\n\n\ndef test_count():\n    assert count([1, 2]) == 2\n"


def _repo(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("from shop.core import total\n")
    (root / "shop" / "core.py").write_text(PKG_CORE)
    (root / "shop" / "service.py").write_text("from shop import core\nfrom shop.core import count\n\n\n"
                                              "def checkout(prices):\n    return count(prices)\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_core.py").write_text(TEST_CORE)
    (root / "tests" / "test_service.py").write_text(TEST_SERVICE)
    (root / "tests" / "test_other.py").write_text(TEST_OTHER)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    return root


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _change(root: Path, path: str, old: str, new: str) -> FileChange:
    data = (root / path).read_bytes()
    return FileChange(path, data, data.replace(old.encode(), new.encode()))


def _settings() -> Settings:
    settings = Settings()
    settings.patch.rounds = 0
    settings.patch.test_timeout_s = 60
    settings.index.embeddings = False
    return settings


FIX = ("shop/core.py\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n    return sum(prices)\n"
       ">>>>>>> REPLACE\n")
BREAK_COUNT = ("shop/core.py\n<<<<<<< SEARCH\n    return len(prices)\n=======\n    return len(prices) + 1\n"
               ">>>>>>> REPLACE\n")


@pytest.mark.parametrize(("files", "content", "kind"), [
    ({"pytest.ini": "[pytest]\n"}, None, PYTEST),
    ({"setup.cfg": "[tool:pytest]\naddopts = -q\n"}, None, PYTEST),
    ({"tox.ini": "[pytest]\n"}, None, PYTEST),
    ({"conftest.py": ""}, None, PYTEST),
    ({"lib/test_x.py": "import unittest\n"}, None, UNITTEST),
    ({"package.json": json.dumps({"scripts": {"test": "jest"}})}, None, NPM),
    ({"go.mod": "module x\n"}, None, GO),
    ({"Cargo.toml": "[package]\nname='x'\n"}, None, CARGO),
])
def test_detects_the_runner_from_the_repository(tmp_path: Path, files: dict[str, str], content: None,
                                                 kind: str) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    runner = detect_runner(tmp_path, list(files))
    assert runner is not None and runner.kind == kind and runner.reason


def test_no_runner_and_npm_placeholder_script(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"test": "echo \"Error: no test specified\""}}))
    assert detect_runner(tmp_path, ["package.json", "main.c"]) is None


def test_module_names_follow_packages(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert module_name(root, "shop/core.py") == "shop.core"
    assert module_name(root, "shop/__init__.py") == "shop"
    assert module_name(root, "tests/test_core.py") == "test_core"  # tests/ is no package


def test_selects_importers_direct_and_through_a_module_with_reasons(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    change = _change(root, "shop/core.py", "sum(prices) + 1", "sum(prices)")
    assert changed_symbols(change) == ["total"]
    selected = {t.path: t.why for t in select_python_tests(root, _files(root), [change], "total is off by one")}
    assert selected["tests/test_core.py"] == "imports shop.core"
    assert selected["tests/test_service.py"].startswith("imports shop.service, which imports shop.core")
    assert "tests/test_other.py" not in selected


def test_issue_names_a_test(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    change = _change(root, "shop/core.py", "sum(prices) + 1", "sum(prices)")
    selected = {t.path: t.why for t in select_python_tests(root, _files(root), [change],
                                                           "see test_other, it fails too")}
    assert selected["tests/test_other.py"] == "defines test_other, which the issue names"


def test_compare_blames_only_changes() -> None:
    before = {"a": PASSED, "b": FAILED, "c": FAILED}
    delta = compare(before, {"a": FAILED, "b": PASSED, "c": FAILED, "d": FAILED})
    assert delta.regressions == ["a"] and delta.fixed == ["b"] and delta.still_failing == ["c"]
    assert delta.new_failing == ["d"]
    # a collection error hides the tests it broke: those that passed before count as regressions
    assert compare({"a": PASSED, "b": PASSED}, {"(collection)": FAILED}).regressions == ["a", "b"]


def test_patch_without_test_cmd_runs_selection_before_and_after(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    report = run_patch(root, _settings(), None, PatchRequest(issue="total is off by one", files=["shop/core.py"],
                                                             replies=[FIX, BREAK_COUNT]))
    best, other = report.candidates
    assert best.verdict == TESTS_PASS and best.fixed_tests == ["tests.test_core::test_total"]
    assert other.regressions == ["tests.test_service::test_checkout"] and other.verdict == LINT_CLEAN
    assert any(r.startswith("REGRESSION") for r in other.reasons)
    runs = report.tests["runs"]
    assert report.tests["runner"] == PYTEST and all("pytest" in run["command"] for run in runs)
    baseline = runs[0]["baseline"]["results"]
    assert baseline["tests.test_core::test_total"] == FAILED and baseline["tests.test_service::test_checkout"] == PASSED
    payload = report.to_dict()["candidates"][0]["validation"]["tests"]
    assert payload["before_after"]["tests.test_core::test_total"] == [FAILED, PASSED]
    text = report.render_text()
    assert "Tests: pytest" in text and "tests/test_core.py - imports shop.core" in text
    assert "test_core::test_total: failed -> passed" in text


def test_regression_ranks_below_a_candidate_without_tests_passing(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    harmless = ("shop/core.py\n<<<<<<< SEARCH\n    return len(prices)\n=======\n    return len(list(prices))\n"
                ">>>>>>> REPLACE\n")
    report = run_patch(root, _settings(), None, PatchRequest(issue="count", files=["shop/core.py"],
                                                             replies=[BREAK_COUNT, harmless]))
    assert [bool(c.regressions) for c in report.candidates] == [False, True]


def test_failing_baseline_is_not_blamed(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "tests" / "test_count.py").write_text(TEST_COUNT.replace("== 2", "== 99"))  # broken before any change
    harmless = ("shop/core.py\n<<<<<<< SEARCH\n    return len(prices)\n=======\n    return len(list(prices))\n"
                ">>>>>>> REPLACE\n")
    report = run_patch(root, _settings(), None, PatchRequest(issue="count", files=["shop/core.py"],
                                                             replies=[harmless]))
    only = report.candidates[0]
    assert not only.regressions and only.verdict == LINT_CLEAN
    assert only.validation is not None and only.validation.test_delta is not None
    # test_core fails before (the bug) and after (this candidate does not fix it); test_count is broken anyway
    assert set(only.validation.test_delta.still_failing) == {"tests.test_count::test_count",
                                                             "tests.test_core::test_total"}
    assert any("failed before the patch too" in r for r in only.reasons)


def test_hanging_tests_stop_at_the_timeout_and_are_not_rerun(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "tests" / "test_core.py").write_text("import time\nimport shop.core\n\n\ndef test_hang():\n"
                                                 "    time.sleep(600)\n")
    settings = _settings()
    settings.patch.test_timeout_s = 3
    report = run_patch(root, settings, None, PatchRequest(issue="x", files=["shop/core.py"], replies=[FIX]))
    assert any("timed out" in note and "not run for the candidates" in note for note in report.notes)
    assert report.candidates[0].validation is not None and report.candidates[0].validation.tests is None
    assert report.tests["runs"][0]["baseline"]["timed_out"]


def test_no_runner_says_so_in_one_line_and_no_tests_turns_it_off(tmp_path: Path) -> None:
    (tmp_path / "calc.c").write_text("int total(void) { return 1; }\n")
    reply = "calc.c\n<<<<<<< SEARCH\nreturn 1;\n=======\nreturn 2;\n>>>>>>> REPLACE\n"
    report = run_patch(tmp_path, _settings(), None, PatchRequest(issue="x", files=["calc.c"], replies=[reply]))
    assert [n for n in report.notes if "no test runner detected" in n] and report.tests["runner"] is None
    root = _repo(tmp_path / "py")
    off = run_patch(root, _settings(), None, PatchRequest(issue="x", files=["shop/core.py"], replies=[FIX],
                                                          run_tests=False))
    assert "tests turned off (--no-tests)" in off.notes and off.candidates[0].verdict == LINT_CLEAN
