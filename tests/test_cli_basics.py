"""The console script: help, version, repository resolution and error handling."""

from __future__ import annotations

import subprocess
from pathlib import Path

from assistant import __version__
from base.paths import find_repo_root
from tests.conftest import run_cli


def test_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "repo-assistant" in result.stdout and "config" in result.stdout
    version = run_cli("--version")
    assert version.returncode == 0 and __version__ in version.stdout


def test_repo_defaults_to_git_root(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_repo_root(nested) == tmp_path.resolve()
    plain = tmp_path.parent / (tmp_path.name + "-plain")
    plain.mkdir()
    assert find_repo_root(plain) == plain.resolve()
    result = run_cli("config", "--json", cwd=nested)
    assert result.returncode == 0


def test_missing_repo_is_one_line_error(tmp_path: Path) -> None:
    result = run_cli("config", "--repo", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_bad_set_flag_is_one_line_error(tmp_path: Path) -> None:
    result = run_cli("config", "--repo", str(tmp_path), "--set", "nodot")
    assert result.returncode == 2 and "section.key=value" in result.stderr
