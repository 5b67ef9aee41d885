"""A throw-away copy of the repository in which candidates are applied, linted and tested.

Validation never touches the user's tree.  The copy holds the working tree as
it is now (uncommitted edits included, since patches are matched against
them): in a git repository the tracked and untracked-but-not-ignored files
(``git ls-files``), elsewhere every file outside the usual build, cache and
virtualenv directories.  ``.git/`` and the assistant's state dir are never
copied, and symlinks are kept only when they stay inside the repository
(looping ones are skipped, as the indexer skips them).
Each candidate gets a fresh copy, so one candidate's test run cannot leak into
the next one's verdict.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from assistant.patch.changes import FileChange
from base.paths import DATA_DIR_NAME

SKIP_DIRS = frozenset({".git", DATA_DIR_NAME, ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist", ".eggs"})


def repo_files(repo: Path) -> list[str]:
    """Repository-relative paths of the files a scratch copy needs."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo, capture_output=True, check=True, timeout=60,
        ).stdout
        listed = sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})
        return [p for p in listed if not (set(Path(p).parts) & {".git", DATA_DIR_NAME})]
    except (OSError, subprocess.SubprocessError):
        pass
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            found.append(os.path.relpath(os.path.join(dirpath, name), repo))
    return found


def _link_inside(link: Path, repo: Path) -> bool:
    """Whether the symlink ``link`` is worth copying: it resolves, without looping, inside ``repo``.

    ``Path.resolve`` raises ``RuntimeError`` on a loop (``a -> b -> a``); like the
    indexer's walk, a loop is simply skipped (nothing can read through it anyway).
    """
    try:
        os.stat(link)  # follows the link: ELOOP for a loop
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False
    resolved = Path(os.path.realpath(link))
    return resolved == repo or repo in resolved.parents


class ScratchCopy:
    """A temporary copy of ``repo``; use as a context manager so it is always removed."""

    def __init__(self, repo: Path, files: Sequence[str] | None = None) -> None:
        self.repo = repo.resolve()
        self.root = Path(tempfile.mkdtemp(prefix="repo-assistant-scratch-"))
        try:
            self._copy(files if files is not None else repo_files(self.repo))
        except BaseException:
            self.cleanup()
            raise

    def _copy(self, files: Iterable[str]) -> None:
        for rel in files:
            source = self.repo / rel
            dest = self.root / rel
            if source.is_symlink():
                if not _link_inside(source, self.repo):
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.readlink(source), dest)
            elif source.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
            elif source.is_dir():  # a submodule listed by git
                shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(*SKIP_DIRS))

    def write(self, changes: Iterable[FileChange]) -> None:
        """Write each change's new bytes into the copy (creating directories as needed)."""
        for change in changes:
            dest = self.root / change.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink():
                dest.unlink()
            dest.write_bytes(change.new)

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ScratchCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
