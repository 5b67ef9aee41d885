"""A candidate's edits applied in memory: from ``Edit`` objects to whole new file contents.

Nothing is written here.  Every path goes through :mod:`assistant.patch.safety`,
every search text through :mod:`assistant.patch.matching`; the first problem
rejects the whole candidate (a patch is never half-applied).  Files keep their
line endings (CRLF files stay CRLF) and their final-newline convention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.patch.edit_formats import Edit
from assistant.patch.matching import MatchError, replace_once
from assistant.patch.safety import UnsafePath, normalise_relpath, read_target


class Rejected(ValueError):
    """The candidate cannot be applied; ``str(exc)`` is the reason, ``kind`` a short category.

    ``edit`` is the 1-based number of the edit that failed (``None``: the whole
    candidate), so that feedback to the model can quote that edit's search text.
    """

    def __init__(self, kind: str, message: str, edit: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.edit = edit


@dataclass(frozen=True)
class FileChange:
    """One file's complete contents before (``None``: created) and after the patch."""

    path: str
    old: bytes | None
    new: bytes

    @property
    def created(self) -> bool:
        return self.old is None


# A whole-file reply that skips code with a placeholder comment would silently delete it.
_ELISION_RE = re.compile(
    r"^\s*(?:#|//|/\*|--|<!--)\s*(?:\.\.\.|…)"
    r"|^\s*(?:#|//|/\*|--)\s*(?:\.\.\.\s*)?(?:rest of|remaining|existing|other|unchanged|same as)\b.*"
    r"(?:code|unchanged|same|methods|functions|file|implementation|before)",
    re.IGNORECASE,
)


def elided_lines(old_text: str, new_text: str) -> list[str]:
    """Placeholder comments (``# ... rest unchanged``) in ``new_text`` that ``old_text`` does not have."""
    existing = {line.strip() for line in old_text.splitlines()}
    return [line.strip() for line in new_text.splitlines()
            if _ELISION_RE.search(line) and line.strip() not in existing]


def _decode(data: bytes) -> tuple[str, bool]:
    text = data.decode("utf-8")
    crlf = "\r\n" in text
    return (text.replace("\r\n", "\n") if crlf else text), crlf


def _encode(text: str, crlf: bool) -> bytes:
    return (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")


def build_changes(repo: Path, edits: Sequence[Edit], shown: Sequence[str] = ()) -> list[FileChange]:
    """Apply ``edits`` in order to the repository's current files, in memory.

    ``shown`` are the paths the model saw in full; a whole-file rewrite of any
    other existing file is refused (the model could not have copied it).
    Raises :class:`Rejected` naming the edit that failed.
    """
    texts: dict[str, str | None] = {}
    originals: dict[str, bytes | None] = {}
    crlf: dict[str, bool] = {}
    for number, edit in enumerate(edits, 1):
        label = f"edit {number} ({edit.path})"
        try:
            rel = normalise_relpath(edit.path)
            if rel not in originals:
                _target, data = read_target(repo, rel)
                originals[rel] = data
                if data is None:
                    texts[rel], crlf[rel] = None, False
                else:
                    texts[rel], crlf[rel] = _decode(data)
        except UnsafePath as exc:
            raise Rejected("unsafe-path", f"{label}: {exc}", number) from exc
        current = texts[rel]
        if edit.whole_file:
            if current is not None and shown and rel not in shown:
                raise Rejected("not-shown", f"{label}: rewrites a file the model was not shown in full", number)
            if current is not None:
                skipped = elided_lines(current, edit.replace)
                if skipped:
                    raise Rejected("elided", f"{label}: leaves code out ({skipped[0][:50]!r})", number)
            texts[rel] = edit.replace
            continue
        if current is None:
            if edit.search.strip():
                raise Rejected("no-match", f"{label}: file does not exist", number)
            texts[rel] = edit.replace
            continue
        if not edit.search.strip() and not current.strip():
            texts[rel] = edit.replace
            continue
        try:
            texts[rel] = replace_once(current, edit.search, edit.replace).content
        except MatchError as exc:
            raise Rejected(exc.kind, f"{label}: {exc}", number) from exc
    changes: list[FileChange] = []
    for rel, text in texts.items():
        if text is None:
            continue
        new = _encode(text, crlf[rel])
        if new != originals[rel]:
            changes.append(FileChange(path=rel, old=originals[rel], new=new))
    if not changes:
        raise Rejected("no-change", "the edits change nothing")
    return changes
