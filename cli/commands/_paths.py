"""Where a file named on the command line is: the one rule for every command.

A user in the project's root and a user in a sub-folder (or passing ``--repo``)
both name files; a path is tried relative to the repository first, then relative to
the working directory (or as an absolute path), and the command says which it used
when it was not the repository's.  Anything outside the repository is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

from base.errors import UsageError


def repo_path(repo: Path, text: str, *, what: str = "file") -> str:
    """The repository-relative POSIX path of the existing file ``text`` names."""
    repo = repo.resolve()
    given = Path(text).expanduser()
    in_repo = None if given.is_absolute() else repo / given
    elsewhere = given if given.is_absolute() else Path.cwd() / given
    if in_repo is not None and in_repo.is_file():
        full = in_repo.resolve()
    elif elsewhere.is_file():
        full = elsewhere.resolve()
        if in_repo is not None and not full.is_relative_to(repo):
            pass  # reported below as outside the repository
        elif in_repo is not None:
            print(f"note: {text} taken relative to the working directory ({Path.cwd()})", file=sys.stderr)
    else:
        raise UsageError(f"{what} not found: {text}",
                         hint=f"give a path relative to the repository {repo} or to the working directory")
    if not full.is_relative_to(repo):
        raise UsageError(f"{text} is not inside the repository {repo}", hint="pass --repo")
    return full.relative_to(repo).as_posix()


def check_line(repo: Path, path: str, line: int | None, end_line: int | None = None) -> None:
    """Refuse a line outside the file (every command, the same way: ``complete`` always did)."""
    if line is None:
        return
    try:
        total = len((repo / path).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    last = end_line if end_line is not None else line
    if line < 1 or last > max(total, 1):
        raise UsageError(f"line {last if line >= 1 else line} is outside {path} ({total} lines)")
