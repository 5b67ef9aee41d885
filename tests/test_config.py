"""Layered configuration: precedence, provenance and strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.config import load_settings
from base.errors import ConfigError
from tests.conftest import run_cli


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_have_default_source(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, environ={}, user_file=tmp_path / "none.toml")
    assert loaded.settings.retrieval.budget == 16_000
    assert loaded.sources["retrieval.budget"] == "default"


def test_layers_apply_in_order(tmp_path: Path) -> None:
    user = _write(tmp_path / "user.toml", "[model]\ntemperature = 0.5\nmax_new_tokens = 100\n[retrieval]\ntop_k = 7\n")
    repo = tmp_path / "repo"
    _write(repo / ".repo-assistant.toml", "[model]\ntemperature = 0.3\n[retrieval]\nbudget = 4000\n")
    env = {"REPO_ASSISTANT_RETRIEVAL_BUDGET": "3000", "REPO_ASSISTANT_INDEX_EXCLUDE": "a/, b/"}
    loaded = load_settings(repo, {"retrieval": {"budget": 2000}}, environ=env, user_file=user)
    s = loaded.settings
    assert s.model.max_new_tokens == 100 and loaded.sources["model.max_new_tokens"] == str(user)
    assert s.model.temperature == 0.3 and loaded.sources["model.temperature"].endswith(".repo-assistant.toml")
    assert s.retrieval.top_k == 7
    assert s.index.exclude == ["a/", "b/"]
    assert loaded.sources["index.exclude"] == "environment REPO_ASSISTANT_INDEX_EXCLUDE"
    assert s.retrieval.budget == 2000 and loaded.sources["retrieval.budget"] == "command line"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[model]\nbogus = 1\n", "unknown key 'model.bogus'"),
        ("[nope]\nx = 1\n", "unknown section 'nope'"),
        ("[model]\ntemperature = 'hot'\n", "'model.temperature' must be float"),
        ("[retrieval]\nbudget = true\n", "'retrieval.budget' must be int"),
        ("[model\n", "not valid TOML"),
    ],
)
def test_bad_project_file_names_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    _write(tmp_path / ".repo-assistant.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={}, user_file=tmp_path / "none.toml")
    assert fragment in str(info.value)
    assert ".repo-assistant.toml" in str(info.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".repo-assistant.toml").write_bytes(b"[model]\nname = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_settings(tmp_path, environ={}, user_file=tmp_path / "none.toml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".repo-assistant.toml").mkdir()  # a directory where a file should be: said, not ignored
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(tmp_path, environ={}, user_file=tmp_path / "none.toml")
    (tmp_path / ".repo-assistant.toml").rmdir()
    unreadable = _write(tmp_path / "u.toml", "[model]\n")
    unreadable.chmod(0)
    try:
        if unreadable.open("rb"):  # root can read anything; then the check is moot
            pytest.skip("running as root: permission bits do not stop reads")
    except PermissionError:
        with pytest.raises(ConfigError, match="cannot read"):
            load_settings(tmp_path, environ={}, user_file=unreadable)


def test_cli_config_shows_sources_and_bad_config_exits_2(tmp_path: Path) -> None:
    _write(tmp_path / ".repo-assistant.toml", "[model]\ntemperature = 0.4\n")
    ok = run_cli("config", "--repo", str(tmp_path), "--set", "retrieval.top_k=9", "--json",
                 env={"REPO_ASSISTANT_MODEL_MAX_NEW_TOKENS": "77"})
    assert ok.returncode == 0, ok.stderr
    assert '"model.temperature"' in ok.stdout
    assert ".repo-assistant.toml" in ok.stdout and "REPO_ASSISTANT_MODEL_MAX_NEW_TOKENS" in ok.stdout
    assert '"command line"' in ok.stdout

    _write(tmp_path / ".repo-assistant.toml", "[model]\nwhat = 1\n")
    bad = run_cli("config", "--repo", str(tmp_path))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.what" in lines[0] and ".repo-assistant.toml" in lines[0]
    assert "Traceback" not in bad.stderr
