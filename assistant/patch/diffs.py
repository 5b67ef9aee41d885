"""File changes rendered as a unified diff that ``git apply`` and ``patch -p1`` accept.

The diff is what a person reviews, so it must describe exactly the bytes that
would be written: missing final newlines are marked the way git marks them, and
created files diff against ``/dev/null``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from assistant.patch.changes import FileChange

NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(data: bytes | None) -> list[str]:
    """Lines split on ``\n`` only (``str.splitlines`` also splits on form feeds and friends)."""
    if not data:
        return []
    parts = data.decode("utf-8").split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def file_diff(change: FileChange, context: int = 3) -> str:
    """The unified diff of one file change (``a/``/``b/`` prefixes)."""
    old_name = "/dev/null" if change.created else f"a/{change.path}"
    out: list[str] = []
    for line in difflib.unified_diff(_lines(change.old), _lines(change.new), old_name, f"b/{change.path}",
                                     n=context):
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


def unified_diff(changes: Iterable[FileChange]) -> str:
    """All file changes as one patch, files in the order given."""
    return "".join(file_diff(change) for change in changes)


def diff_stats(changes: Iterable[FileChange]) -> tuple[int, int]:
    """Lines added and removed across all changes."""
    added = removed = 0
    for change in changes:
        for line in difflib.unified_diff(_lines(change.old), _lines(change.new), n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
    return added, removed
