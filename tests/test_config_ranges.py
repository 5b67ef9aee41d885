"""Settings are range- and choice-checked at load time, in every layer (exit 2, key and rule named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base.config import load_settings
from base.errors import ConfigError
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("index.max_file_bytes=-5", "'index.max_file_bytes' must be >= 1, got -5"),
        ("retrieval.rrf_k=-60", "'retrieval.rrf_k' must be >= 0, got -60"),
        ("retrieval.bm25_weight=nan", "'retrieval.bm25_weight' must be >= 0, got nan"),
        ("retrieval.budget=-100", "'retrieval.budget' must be >= 1, got -100"),
        ("retrieval.mode=bogus", "'retrieval.mode' must be one of bm25, vector, hybrid, got 'bogus'"),
        ("model.top_p=0", "'model.top_p' must be > 0 and <= 1, got 0.0"),
    ],
)
def test_out_of_range_flag_exits_2_naming_key_and_rule(tmp_path: Path, assignment: str, expected: str) -> None:
    result = run_cli("config", "--repo", str(tmp_path), "--set", assignment)
    assert result.returncode == 2
    assert result.stderr == f"repo-assistant: error: command line: {expected}\n"


def test_out_of_range_in_project_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / ".repo-assistant.toml").write_text("[model]\ntemperature = -1.0\n")
    with pytest.raises(ConfigError, match=r"\.repo-assistant\.toml: 'model\.temperature' must be >= 0 and <= 2"):
        load_settings(tmp_path, environ={}, user_file=tmp_path / "none.toml")
    (tmp_path / ".repo-assistant.toml").unlink()
    with pytest.raises(ConfigError, match=r"REPO_ASSISTANT_RETRIEVAL_TOP_K: 'retrieval\.top_k' must be >= 1"):
        load_settings(tmp_path, environ={"REPO_ASSISTANT_RETRIEVAL_TOP_K": "0"}, user_file=tmp_path / "none.toml")


def test_choices_are_case_insensitive_and_stored_as_declared(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, {"retrieval": {"mode": " BM25"}}, environ={}, user_file=tmp_path / "n.toml")
    assert loaded.settings.retrieval.mode == "bm25"


def test_project_config_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".repo-assistant.toml").mkdir()
    result = run_cli("config", "--repo", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"repo-assistant: error: {tmp_path.resolve() / '.repo-assistant.toml'}: "
                                    "is a directory")
    assert result.stderr.count("\n") == 1


def test_config_lists_only_files_that_were_read(tmp_path: Path) -> None:
    shown = run_cli("config", "--repo", str(tmp_path), env={"COLUMNS": "400"})
    assert shown.returncode == 0 and "Files read: none (not present:" in shown.stdout
    (tmp_path / ".repo-assistant.toml").write_text("[retrieval]\nrrf_k = 10\n")
    shown = run_cli("config", "--repo", str(tmp_path), env={"COLUMNS": "400"})
    project = tmp_path.resolve() / ".repo-assistant.toml"
    assert f"Files read: {project} (project) (not present:" in shown.stdout
    values = json.loads(run_cli("config", "--repo", str(tmp_path), "--json").stdout)
    assert values["retrieval.rrf_k"] == {"value": "10", "source": str(project)}
