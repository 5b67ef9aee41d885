"""An unknown model name fails at once with one line, offline or with the Hub unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.models.resolve import ModelSource, check_hub_source, resolve_source
from base.errors import ModelUnavailableError
from tests.conftest import run_cli


def _assert_one_line(stderr: str, name: str) -> None:
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"repo-assistant: error: cannot load model '{name}'")
    assert "Retry" not in stderr and "Traceback" not in stderr


def test_unknown_model_offline_is_one_line(tmp_path: Path) -> None:
    result = run_cli("ask", "hi", "--model", "no-such-model-xyz", "--repo", str(tmp_path))  # HF_HUB_OFFLINE=1
    assert result.returncode != 0
    _assert_one_line(result.stderr, "no-such-model-xyz")
    assert "the Hub cannot be reached" in result.stderr


def test_unknown_model_with_unreachable_hub_is_one_line(tmp_path: Path) -> None:
    # online mode, but the Hub's port refuses connections: no retries, no warnings
    env = {"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "", "HF_ENDPOINT": "http://127.0.0.1:9",
           "HTTPS_PROXY": "", "https_proxy": "", "ALL_PROXY": "", "all_proxy": ""}
    result = run_cli("ask", "hi", "--model", "smollm-135m", "--repo", str(tmp_path), env=env)
    assert result.returncode != 0
    _assert_one_line(result.stderr, "smollm-135m")
    assert "did you mean smollm2-135m?" in result.stderr


def test_invalid_hub_id_fails_without_asking_anyone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(ModelUnavailableError, match="not a preset, a local path or a valid Hugging Face id"):
        check_hub_source(resolve_source("no such model"))


def test_reachable_hub_is_left_to_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """With network (the probe connects) an uncached id is not refused: real users still download."""
    import assistant.models.resolve as resolve

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(resolve, "hub_reachable", lambda: True)
    check_hub_source(ModelSource(name="someone/some-model", location="someone/some-model", kind="hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError):
        check_hub_source(ModelSource(name="someone/some-model", location="someone/some-model", kind="hub"))
