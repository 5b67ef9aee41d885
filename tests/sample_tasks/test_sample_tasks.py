"""Meta test for the end-to-end tasks on ``sample_repo/``.

``tasks.json`` lists five planted bugs.  For each one this module proves, on a
throw-away copy of the sample repository, that

(a) the task's test (``task_NNN_*.py``) FAILS on the unmodified sample,
(b) it PASSES once the task's gold patch is applied,

and, for the sample as a whole, that

(c) the sample's own test suite (``sample_repo/tests``) passes on the
    unmodified copy (the bugs sit in paths it does not cover), and
(d) with all five patches applied together, the sample's suite and all task
    tests pass.

Every check runs ``python -m pytest`` in a subprocess with ``SAMPLE_REPO_ROOT``
pointing at the copy, an empty ini file (so the project's own pytest config,
conftests and plugins play no part) and ``-p no:cacheprovider``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
MANIFEST = json.loads((HERE / "tasks.json").read_text(encoding="utf-8"))
SAMPLE_REPO = (PROJECT_ROOT / MANIFEST["sample_repo"]).resolve()
TASKS = MANIFEST["tasks"]
SUBPROCESS_TIMEOUT = 180


def copy_sample(dest: Path) -> Path:
    shutil.copytree(
        SAMPLE_REPO,
        dest,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".repo-assistant", "*.pyc", "*.db"),
    )
    return dest


def patched_files(patch: Path) -> set[str]:
    """Paths (relative to the sample root) that a git-style patch modifies."""
    names = re.findall(r"^\+\+\+ b/(\S+)", patch.read_text(encoding="utf-8"), flags=re.M)
    return set(names)


def apply_patch(patch: Path, root: Path) -> None:
    if shutil.which("git"):
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
        cmd = ["git", "apply", "-p1", "--whitespace=nowarn", str(patch)]
    elif shutil.which("patch"):
        env = dict(os.environ)
        cmd = ["patch", "-p1", "--forward", "--batch", "-i", str(patch)]
    else:  # pragma: no cover - depends on the machine
        pytest.skip("neither git nor patch is available")
    result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{patch.name} does not apply:\n{result.stdout}{result.stderr}"


def run_pytest(workdir: Path, sample_root: Path, *targets: Path) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``targets`` in isolation from the project's configuration."""
    ini = workdir / "pytest.ini"
    if not ini.exists():
        ini.write_text("[pytest]\n", encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTEST_ADDOPTS", "PYTHONPATH", "PYTEST_PLUGINS")
    }
    env.update(
        SAMPLE_REPO_ROOT=str(sample_root),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-c", str(ini), "--rootdir", str(workdir), *map(str, targets),
    ]  # fmt: skip
    return subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )


def stage_task_test(task: dict, workdir: Path) -> Path:
    """Copy a task test next to (not inside) the sample copy."""
    target = workdir / "tasks" / task["test"]
    target.parent.mkdir(exist_ok=True)
    shutil.copy2(HERE / task["test"], target)
    return target


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"


# -- the manifest itself -----------------------------------------------------


def test_manifest_is_consistent():
    ids = [task["id"] for task in TASKS]
    assert ids == [f"{n:03d}" for n in range(1, len(TASKS) + 1)]
    assert len(TASKS) >= 5
    all_gold = [path for task in TASKS for path in task["gold_files"]]
    assert len(all_gold) == len(set(all_gold)), "each bug must live in its own file"
    for task in TASKS:
        prefix = f"{task['id']}-{task['slug']}"
        assert task["issue"] == f"ISSUES/{prefix}.md"
        assert task["patch"] == f"{prefix}.patch"
        assert re.fullmatch(rf"task_{task['id']}_\w+\.py", task["test"])
        assert (SAMPLE_REPO / task["issue"]).is_file()
        assert (HERE / task["test"]).is_file()
        for gold in task["gold_files"]:
            assert (SAMPLE_REPO / gold).is_file(), gold
        assert patched_files(HERE / task["patch"]) == set(task["gold_files"])


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_issue_describes_symptom_not_fix(task):
    """No line added by the gold patch may appear verbatim in the bug report."""
    issue = (SAMPLE_REPO / task["issue"]).read_text(encoding="utf-8")
    assert issue.startswith("# "), "an issue starts with its title"
    patch = (HERE / task["patch"]).read_text(encoding="utf-8")
    added = [
        line[1:].strip()
        for line in patch.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    for line in added:
        if len(line) > 12:
            assert line not in issue, f"issue {task['id']} gives away the fix: {line}"


# -- behaviour on copies of the sample --------------------------------------


def test_sample_suite_passes_on_unmodified_copy(tmp_path):
    root = copy_sample(tmp_path / "sample")
    result = run_pytest(tmp_path, root, root / "tests")
    assert result.returncode == 0, describe(result)
    assert " passed" in result.stdout


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_task_fails_before_and_passes_after_patch(task, tmp_path):
    root = copy_sample(tmp_path / "sample")
    test_file = stage_task_test(task, tmp_path)

    before = run_pytest(tmp_path, root, test_file)
    assert before.returncode == 1, "task test must fail (not error) on the buggy sample:\n" + describe(before)
    summary = before.stdout.strip().splitlines()[-1]
    assert " failed" in summary and "error" not in summary, describe(before)

    apply_patch(HERE / task["patch"], root)
    after = run_pytest(tmp_path, root, test_file)
    assert after.returncode == 0, "task test must pass after the patch:\n" + describe(after)


def test_all_patches_together(tmp_path):
    root = copy_sample(tmp_path / "sample")
    for task in TASKS:
        apply_patch(HERE / task["patch"], root)
    test_files = [stage_task_test(task, tmp_path) for task in TASKS]
    result = run_pytest(tmp_path, root, root / "tests", *test_files)
    assert result.returncode == 0, describe(result)
    assert "failed" not in result.stdout.strip().splitlines()[-1]
