"""Global options work before and after the command; a bad argument shows that command's usage."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_repo_and_set_before_the_command(tmp_path: Path) -> None:
    result = run_cli("--repo", str(tmp_path), "--set", "retrieval.top_k=3", "config", "--json")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["retrieval.top_k"] == {"value": "3", "source": "command line"}


def test_set_before_and_after_the_command_add_up(tmp_path: Path) -> None:
    result = run_cli("--set", "retrieval.top_k=3", "config", "--repo", str(tmp_path),
                     "--set", "retrieval.budget=100", "--json")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["retrieval.top_k"]["value"] == "3" and settings["retrieval.budget"]["value"] == "100"


def test_repo_before_the_command_is_the_repository(tmp_path: Path) -> None:
    result = run_cli("--repo", str(tmp_path), "status", cwd=Path("/"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"repo-assistant: error: no index for {tmp_path.resolve()} " \
                                    "(run `repo-assistant index`)"


def test_debug_before_the_command_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("--debug", "--repo", str(tmp_path), "status")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_unknown_argument_prints_the_subcommand_usage(tmp_path: Path) -> None:
    result = run_cli("--repo", str(tmp_path), "search", "--bogus", "x")
    assert result.returncode == 2
    assert "usage: repo-assistant search" in result.stderr
    assert "repo-assistant search: error: unrecognized arguments: --bogus" in result.stderr
