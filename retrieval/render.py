"""How context blocks look to the model: a file-path header, then numbered lines.

Line numbers let the model (and the user reading the context inspector) cite
exact places, and the header says which file a snippet comes from, which
matters as soon as two files define similar code.
"""

from __future__ import annotations

from collections.abc import Sequence

REPO_MAP_HEADER = "### Repository map (files and their most relevant definitions)"
BLOCK_SEPARATOR = "\n"


def numbered(lines: Sequence[str], start: int, end: int) -> str:
    """Lines ``start..end`` (1-based, inclusive) of ``lines`` with right-aligned line numbers."""
    width = len(str(end))
    return "".join(f"{n:>{width}} {lines[n - 1].rstrip(chr(13) + chr(10))}\n" for n in range(start, end + 1))


def block(path: str, lines: Sequence[str], start: int, end: int, note: str = "") -> str:
    """One snippet: ``### path (lines a-b; note)`` and the numbered lines."""
    extra = f"; {note}" if note else ""
    return f"### {path} (lines {start}-{end}{extra})\n{numbered(lines, start, end)}"


def outline_block(path: str, rows: Sequence[tuple[int, str]], note: str = "outline") -> str:
    """Selected lines only (signatures), with ``...`` where lines are skipped."""
    if not rows:
        return ""
    width = len(str(max(n for n, _ in rows)))
    out = [f"### {path} (lines {rows[0][0]}-{rows[-1][0]}; {note})\n"]
    last = None
    for number, text in rows:
        if last is not None and number > last + 1:
            out.append(f"{'':>{width}} ...\n")
        out.append(f"{number:>{width}} {text.rstrip(chr(13) + chr(10))}\n")
        last = number
    return "".join(out)


def repo_map_block(map_text: str) -> str:
    """The repo map under its own header."""
    return f"{REPO_MAP_HEADER}\n{map_text}" if map_text else ""


def join_blocks(blocks: Sequence[str]) -> str:
    """The prompt text: blocks in order, separated by a blank line."""
    return BLOCK_SEPARATOR.join(b for b in blocks if b)
