"""What a context remembers between questions: file lines by mtime and size, token counts by text."""

from __future__ import annotations

import os
from pathlib import Path

from retrieval.context import FileLines, remembered_counts


def test_file_lines_are_reused_until_the_file_changes(tmp_path: Path) -> None:
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    first = FileLines(tmp_path, None).get("a.py")  # type: ignore[arg-type]  # the index is not needed on disk
    assert first == ["x = 1\n"]
    assert FileLines(tmp_path, None).get("a.py") is first  # type: ignore[arg-type]
    stat = source.stat()
    source.write_text("y = 2\n")  # the same size: the new mtime alone must tell
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert FileLines(tmp_path, None).get("a.py") == ["y = 2\n"]  # type: ignore[arg-type]


def test_token_counts_are_remembered_per_counter() -> None:
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text.split())

    memo = remembered_counts(count)
    assert remembered_counts(count) is memo  # one wrapper per counter: caches keyed by it keep hitting
    assert memo("a b c") == 3 and memo("a b c") == 3 and memo("d") == 1
    assert calls == ["a b c", "d"]
