"""Shared fixtures: an isolated user environment for every test, and the sample repo."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPO = PROJECT_ROOT / "sample_repo"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the developer's real config and settings variables.

    The model cache is shared on purpose (``REPO_ASSISTANT_CACHE_DIR`` is left as
    it is) so the embedded model is converted once per machine, not per test; the
    shared vector cache is not (each test starts with an empty one).
    """
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for name in list(os.environ):
        if name.startswith("REPO_ASSISTANT_") and name != "REPO_ASSISTANT_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    # Vectors are cached machine-wide by content: per test, so a test never sees another's.
    monkeypatch.setenv("REPO_ASSISTANT_VECTOR_CACHE_DIR", str(home / "vectors"))
    monkeypatch.setenv("REPO_ASSISTANT_MAP_CACHE_DIR", str(home / "repo-map"))  # likewise the repo map's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input_text: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``repo-assistant`` console script in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("repo-assistant")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=full_env, input=input_text, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


@pytest.fixture
def sample_repo_copy(tmp_path: Path) -> Path:
    """A private copy of sample_repo/ (without any index) as a git repository."""
    import shutil

    target = tmp_path / "sample_repo"
    shutil.copytree(SAMPLE_REPO, target, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "initial"],
        cwd=target, check=True,
    )
    return target


@pytest.fixture(scope="session")
def embedded_backend() -> Iterator[Any]:
    """The embedded SmolLM2 on the CPU with one thread (converted on first use, cached after)."""
    from assistant.models import load_backend
    from base.config import ModelSettings

    backend = load_backend(ModelSettings(), threads=1)
    yield backend
