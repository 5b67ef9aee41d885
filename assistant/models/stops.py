"""Cutting streamed text at stop strings without ever emitting part of one.

Both backends stream text that grows a few characters at a time.  A stop string
can arrive split across deltas, so text that could still turn out to be the
start of a stop string (and an incomplete UTF-8 character, shown as U+FFFD) is
held back until later text decides it.
"""

from __future__ import annotations


def safe_end(text: str, emitted: int, stops: list[str], final: bool) -> tuple[int, bool]:
    """How much of ``text`` may be emitted now, and whether a stop string was found.

    ``emitted`` is how much was emitted before; the result is never less than it.
    """
    longest = max((len(s) for s in stops), default=0)
    search_from = max(0, emitted - longest)
    cut: int | None = None
    for stop in stops:
        pos = text.find(stop, search_from)
        if pos != -1 and (cut is None or pos < cut):
            cut = pos
    if cut is not None:
        return max(cut, emitted), True
    if final:
        return len(text), False
    end = len(text.rstrip("\ufffd")) if text.endswith("\ufffd") else len(text)
    hold = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, end), 0, -1):
            if text[end - k:end] == stop[:k]:
                hold = max(hold, k)
                break
    return max(end - hold, emitted), False


class StopCutter:
    """Accumulates deltas of one sequence and returns what may be shown (see :func:`safe_end`)."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.text = ""
        self.emitted = 0
        self.stopped = False

    def feed(self, delta: str) -> str:
        """Add ``delta``; return the newly safe text ('' once a stop string was seen)."""
        if self.stopped:
            return ""
        self.text += delta
        return self._advance(final=False)

    def finish(self) -> str:
        """The held-back rest at the end of the stream."""
        if self.stopped:
            return ""
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        end, hit = safe_end(self.text, self.emitted, self.stops, final)
        out = self.text[self.emitted:end]
        self.emitted = end
        if hit:
            self.stopped = True
        return out
