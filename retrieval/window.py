"""The active-file window: the lines around the cursor that fit a token budget.

Code above the cursor tells the model what is being written; code below it tells
it where the completion must land.  Editors that complete well (Continue, Tabby,
Copilot) give the prefix the larger share, so the window grows upward with
``PREFIX_SHARE`` of the budget first, then downward with the rest, and gives the
prefix whatever the suffix could not use when the file ends early.  Edges are
snapped to blank lines near them so a window does not start or end mid-statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

PREFIX_SHARE = 0.7
SNAP_LINES = 8  # how far an edge may move to land on a blank line


@dataclass(frozen=True)
class Window:
    """Lines ``start..end`` of the file (``end < start`` when nothing fits), split at the cursor."""

    start: int
    end: int
    prefix: str
    suffix: str

    @property
    def empty(self) -> bool:
        return self.end < self.start


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``[low, high]`` with ``fits(n)`` (``fits`` monotone); ``low - 1`` if none."""
    best = low - 1
    while low <= high:
        middle = (low + high) // 2
        if fits(middle):
            best = middle
            low = middle + 1
        else:
            high = middle - 1
    return best


def _snap_start(lines: Sequence[str], start: int, cursor: int) -> int:
    if start <= 1:
        return start
    for n in range(start, min(start + SNAP_LINES, cursor)):
        if not lines[n - 1].strip():
            return n + 1
    return start


def _snap_end(lines: Sequence[str], end: int, cursor_end: int) -> int:
    if end >= len(lines):
        return end
    for n in range(end, max(end - SNAP_LINES, cursor_end), -1):
        if not lines[n - 1].strip():
            return n - 1 if n - 1 >= cursor_end else end
    return end


def cursor_window(
    lines: Sequence[str],
    line: int | None,
    col: int | None,
    end_line: int | None,
    budget: int,
    cost: Callable[[int, int], int],
) -> Window:
    """The window around the cursor whose rendering (``cost(start, end)``) fits ``budget`` tokens.

    ``line is None`` means the whole file is the subject: the window starts at line 1 and the
    prefix is all of it.  A selection (``end_line``) is kept whole when it fits.
    """
    n = len(lines)
    if n == 0 or budget <= 0:
        return Window(1, 0, "", "")
    if line is None:
        end = _largest(1, n, lambda e: cost(1, e) <= budget)
        return Window(1, end, "".join(lines[:max(0, end)]), "")
    cursor = min(max(1, line), n)
    sel_end = min(max(cursor, end_line or cursor), n)
    if cost(cursor, sel_end) > budget:
        sel_end = cursor
        if cost(cursor, cursor) > budget:
            return Window(cursor, cursor - 1, "", "")
    above = _largest(0, cursor - 1, lambda a: cost(cursor - a, sel_end) <= max(budget * PREFIX_SHARE, 1))
    above = max(above, 0)
    below = _largest(0, n - sel_end, lambda b: cost(cursor - above, sel_end + b) <= budget)
    below = max(below, 0)
    if sel_end + below >= n:
        above = max(above, _largest(above, cursor - 1, lambda a: cost(cursor - a, n) <= budget))
    start, end = cursor - above, sel_end + below
    start = _snap_start(lines, start, cursor)
    end = _snap_end(lines, end, sel_end)
    text_line = lines[cursor - 1]
    body = text_line.rstrip("\r\n")
    split = len(body) if col is None else min(max(0, col), len(body))
    prefix = "".join(lines[start - 1:cursor - 1]) + text_line[:split]
    suffix = text_line[split:] + "".join(lines[cursor:end])
    return Window(start, end, prefix, suffix)
