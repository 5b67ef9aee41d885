"""How context blocks look to the model: the one renderer of every prompt's context.

Each block is a heading in the citation form the prompts ask for —
``### path:start-end (why)`` — and then the numbered lines, so the model can copy a
citation from the heading and narrow it with the line numbers, and the user reading
the context inspector sees the same labels the answer cites.  The heading also says
which file a snippet comes from, which matters as soon as two files define similar code.
"""

from __future__ import annotations

from collections.abc import Sequence

REPO_MAP_HEADER = "### Repository map (files and their most relevant definitions)"
RULES_HEADER = "### Project rules"
BLOCK_SEPARATOR = "\n"


def numbered(lines: Sequence[str], start: int, end: int) -> str:
    """Lines ``start..end`` (1-based, inclusive) of ``lines`` with right-aligned line numbers."""
    width = len(str(end))
    return "".join(f"{n:>{width}} {lines[n - 1].rstrip(chr(13) + chr(10))}\n" for n in range(start, end + 1))


def citation_label(path: str, start: int, end: int) -> str:
    """``path:start-end``: how a span is cited, in headings, answers and the UI alike."""
    return f"{path}:{start}-{end}"


def heading(path: str, start: int, end: int, note: str = "") -> str:
    """``### path:start-end (note)``: a block's first line."""
    extra = f" ({note})" if note else ""
    return f"### {citation_label(path, start, end)}{extra}\n"


def block(path: str, lines: Sequence[str], start: int, end: int, note: str = "") -> str:
    """One snippet: its heading and the numbered lines."""
    return heading(path, start, end, note) + numbered(lines, start, end)


def outline_block(path: str, rows: Sequence[tuple[int, str]], note: str = "outline") -> str:
    """Selected lines only (signatures), with ``...`` where lines are skipped."""
    if not rows:
        return ""
    width = len(str(max(n for n, _ in rows)))
    out = [heading(path, rows[0][0], rows[-1][0], note)]
    last = None
    for number, text in rows:
        if last is not None and number > last + 1:
            out.append(f"{'':>{width}} ...\n")
        out.append(f"{number:>{width}} {text.rstrip(chr(13) + chr(10))}\n")
        last = number
    return "".join(out)


def rules_block(rules_text: str) -> str:
    """The project's rules files under their own header."""
    return f"{RULES_HEADER}\n{rules_text}\n" if rules_text else ""


def repo_map_block(map_text: str) -> str:
    """The repo map under its own header."""
    return f"{REPO_MAP_HEADER}\n{map_text}" if map_text else ""


def join_blocks(blocks: Sequence[str]) -> str:
    """The prompt text: blocks in order, separated by a blank line."""
    return BLOCK_SEPARATOR.join(b for b in blocks if b)
