"""Line-span arithmetic: merge overlapping or adjacent spans, subtract what is already shown.

Spans are ``(start, end)`` pairs of 1-based inclusive line numbers.  Context
assembly uses these so that a function found both as a definition and as a
search hit appears once, and a search hit that overlaps the active-file window
only adds the lines the window does not already show.
"""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]


def merge_spans(spans: Iterable[Span], gap: int = 0) -> list[Span]:
    """Sorted union of ``spans``; spans separated by at most ``gap`` missing lines are joined too.

    ``gap=0`` joins overlapping and touching spans (``(1, 3)`` and ``(4, 6)`` → ``(1, 6)``).
    Empty spans (end before start) are ignored.
    """
    ordered = sorted((s, e) for s, e in spans if e >= s)
    merged: list[Span] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1] + 1 + gap:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract_spans(span: Span, covered: Iterable[Span]) -> list[Span]:
    """The parts of ``span`` not inside any of ``covered``, in order."""
    start, end = span
    pieces: list[Span] = []
    cursor = start
    for c_start, c_end in merge_spans(covered):
        if c_end < cursor:
            continue
        if c_start > end:
            break
        if c_start > cursor:
            pieces.append((cursor, c_start - 1))
        cursor = max(cursor, c_end + 1)
        if cursor > end:
            break
    if cursor <= end:
        pieces.append((cursor, end))
    return pieces


def covered_lines(spans: Iterable[Span]) -> int:
    """How many distinct lines the spans cover."""
    return sum(e - s + 1 for s, e in merge_spans(spans))


def overlaps(a: Span, b: Span) -> bool:
    """Whether two spans share at least one line."""
    return a[0] <= b[1] and b[0] <= a[1]
