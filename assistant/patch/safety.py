"""Which paths a generated patch may touch.

A model's reply is untrusted input: it may name ``../../.bashrc``, an absolute
path, a file reached through a symlink that leaves the repository, the
repository's own ``.git/`` (hooks there run code), the assistant's state dir or
a binary file.  Every path is checked here before anything is read for matching
and again right before anything is written; a failed check rejects the whole
candidate with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from base.paths import DATA_DIR_NAME

FORBIDDEN_DIRS = frozenset({".git", DATA_DIR_NAME})
BINARY_SNIFF_BYTES = 8192


class UnsafePath(ValueError):
    """A path the patch may not touch; ``str(exc)`` is the reason."""


def is_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB, or bytes that are not UTF-8 text, mean binary."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def normalise_relpath(raw: str) -> str:
    """The repository-relative POSIX path the model meant, or :class:`UnsafePath`.

    ``./a/b.py`` → ``a/b.py``.  Absolute paths, ``..`` components, empty names,
    control characters and paths into ``.git/`` or ``.repo-assistant/`` are refused.
    """
    text = raw.strip()
    if not text:
        raise UnsafePath("empty file path")
    if any(ord(ch) < 32 for ch in text) or "\x7f" in text:
        raise UnsafePath(f"{text!r}: control characters in the path")
    if "\\" in text:
        raise UnsafePath(f"{text}: backslashes in the path")
    if text.startswith("/") or text.startswith("~") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePath(f"{text}: absolute paths are not allowed")
    parts = [p for p in PurePosixPath(text).parts if p not in {"", "."}]
    if not parts:
        raise UnsafePath(f"{text}: not a file path")
    if ".." in parts:
        raise UnsafePath(f"{text}: '..' leaves the repository")
    lowered = {p.lower() for p in parts}
    for forbidden in FORBIDDEN_DIRS:
        if forbidden in lowered:
            raise UnsafePath(f"{text}: files under {forbidden}/ may not be edited")
    return "/".join(parts)


def resolve_in_repo(repo: Path, relpath: str) -> Path:
    """The absolute path for ``relpath`` after checking that no symlink leads out of ``repo``.

    The target itself may not be a symlink (writing would replace the link or
    edit a file elsewhere), nor a directory.  The file need not exist (new files).
    """
    root = repo.resolve()
    rel = normalise_relpath(relpath)
    target = root / rel
    current = root
    for part in PurePosixPath(rel).parts:
        current = current / part
        if current.is_symlink():
            if current == target:
                raise UnsafePath(f"{rel}: is a symlink; edit the file it points to instead")
            resolved = current.resolve()
            if not (resolved == root or root in resolved.parents):
                raise UnsafePath(f"{rel}: a symlink on the way leaves the repository")
    final = target.resolve()
    if not (final == root or root in final.parents):
        raise UnsafePath(f"{rel}: resolves outside the repository")
    inside = final.relative_to(root).parts
    if inside and {p.lower() for p in inside} & FORBIDDEN_DIRS:
        raise UnsafePath(f"{rel}: resolves into {'/'.join(inside[:1])}/")
    if target.exists() and not target.is_file():
        raise UnsafePath(f"{rel}: not a regular file")
    return target


def read_target(repo: Path, relpath: str) -> tuple[Path, bytes | None]:
    """Check ``relpath`` and return its absolute path and bytes (``None``: the file does not exist)."""
    target = resolve_in_repo(repo, relpath)
    if not target.exists():
        return target, None
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise UnsafePath(f"{relpath}: cannot read ({exc.strerror or exc})") from exc
    if is_binary(data):
        raise UnsafePath(f"{relpath}: binary file")
    return target, data


def same_file_mode(path: Path) -> int | None:
    """The permission bits of an existing file (kept when it is rewritten)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None
