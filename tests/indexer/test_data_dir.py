"""The data dir stays out of the user's ``git status`` (a ``*`` .gitignore is written when it is created)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import run_cli


def test_index_leaves_git_status_clean(sample_repo_copy: Path) -> None:
    result = run_cli("index", str(sample_repo_copy), "--no-embeddings")
    assert result.returncode == 0, result.stderr
    assert (sample_repo_copy / ".repo-assistant" / ".gitignore").read_text().splitlines()[-1] == "*"
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=sample_repo_copy,
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""


def test_log_alone_creates_the_gitignore_too(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = run_cli("status", str(tmp_path))  # fails (no index) but logs the error
    assert result.returncode == 1
    assert (tmp_path / ".repo-assistant" / "logs" / "assistant.log").is_file()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""
