"""Where things live: the repository root, its data dir, the user's config and cache dirs.

Per-repository state (index, logs, sessions, patch backups) lives in
``<repo>/.repo-assistant/`` so that it travels with the checkout and is easy to
delete; user-wide state (converted model weights, bench caches) lives in the XDG
cache dir.  Nothing here creates a directory at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "repo-assistant"
DATA_DIR_NAME = ".repo-assistant"
PROJECT_CONFIG_NAME = ".repo-assistant.toml"
PROJECT_IGNORE_NAME = ".repo-assistant-ignore"


def find_repo_root(start: Path | None = None) -> Path:
    """The git root above ``start`` (default: the current directory), else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def repo_data_dir(repo: Path) -> Path:
    """The per-repository state dir (not created here)."""
    return repo / DATA_DIR_NAME


DATA_DIR_GITIGNORE = "# repo-assistant state (index, logs, patch backups): never committed\n*\n"


def ensure_data_dir(repo: Path, *parts: str) -> Path:
    """Create ``<repo>/.repo-assistant[/parts...]`` and return it.

    The data dir gets a ``.gitignore`` holding ``*`` when it is created (as virtualenvs
    and pytest's cache do), so the index and logs never show up in the user's
    ``git status``.  Raises ``OSError`` when the repository is not writable.
    """
    root = repo_data_dir(repo)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / ".gitignore"
    if not marker.exists():
        marker.write_text(DATA_DIR_GITIGNORE, encoding="utf-8")
    return ensure_dir(root.joinpath(*parts)) if parts else root


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/repo-assistant/config.toml`` (platformdirs honours XDG on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def user_cache_dir() -> Path:
    """User-wide cache (converted model weights, bench downloads); ``REPO_ASSISTANT_CACHE_DIR`` overrides."""
    override = os.environ.get("REPO_ASSISTANT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME))


def user_data_dir() -> Path:
    """User-wide data (saved chat sessions keyed by repository)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path
