"""Fixtures for the TUI tests: an indexed copy of sample_repo, the real model, app settings.

Indexing and loading the model are done once per test session (session-scoped
fixtures); every test that may write gets its own copy of the indexed repository
(``repo``), so tests never see each other's pins, saved chats or applied patches.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from base.config import Settings
from tests.conftest import SAMPLE_REPO

MAX_NEW_TOKENS = 24


def tui_settings() -> Settings:
    """Short prompts and generations, one sample per patch, the default theme: fast and stable tests."""
    settings = Settings()
    settings.model.max_new_tokens = MAX_NEW_TOKENS
    settings.model.completion_tokens = 16
    settings.model.threads = 1
    settings.index.threads = 1
    settings.patch.samples = 1
    settings.patch.rounds = 0  # no repair rounds: their reply room would not fit the short test budget
    settings.retrieval.budget = 1_500  # ~1.2K of context after the reserve and prompt: CPU prefill dominates test time
    settings.retrieval.answer_reserve = 64
    return settings


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "initial"],
                   cwd=path, check=True)


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_repo copied once, made a git repository and indexed.

    BM25 only: embedding the sample's 366 chunks takes 30-70 s on the CI's two
    shared cores, and the vector path is the indexer's and retriever's to test;
    search falls back to BM25 by itself when an index has no vectors.
    """
    from indexer.pipeline import index_repository

    target = tmp_path_factory.mktemp("indexed") / "sample_repo"
    shutil.copytree(SAMPLE_REPO, target, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    (target / ".gitignore").write_text(".repo-assistant/\n", encoding="utf-8")
    _git_init(target)
    index_repository(target, tui_settings().index, embeddings=False)
    return target


@pytest.fixture
def repo(indexed_template: Path, tmp_path: Path) -> Path:
    """A private, indexed, committed copy of sample_repo."""
    target = tmp_path / "sample_repo"
    shutil.copytree(indexed_template, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def real_backend() -> Iterator[object]:
    """The embedded SmolLM2 model, loaded once for every test that generates text."""
    from assistant.models import load_backend

    backend = load_backend(tui_settings().model, threads=1)
    yield backend


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are ``async``: run them on asyncio (anyio's pytest plugin, no extra dependency)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_index_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background re-indexing in the app under test.

    The watcher (``assistant.freshness``) re-indexes a changed file after a debounce, a
    clock: a test that writes a file would race with it, and a screenshot could catch the
    status bar before or after.  The watcher has its own tests (``tests/mcp/test_freshness.py``);
    a test module that wants it in the app overrides this fixture with one of the same name.
    """
    from tui.app import AssistantApp

    monkeypatch.setattr(AssistantApp, "_watch_files", lambda self: None)
