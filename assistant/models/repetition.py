"""Stopping an answer that has fallen into a loop.

Small models, and larger ones at low temperature, sometimes repeat one sentence or
paragraph until ``max_new_tokens`` runs out: the embedded 135M model answered "How does
json.dumps handle the indent argument?" with one sentence over and over.  The user waits
for hundreds of tokens of nothing, and the saved turn feeds the loop to the next
question.  :class:`LoopGuard` watches the streamed text and says when its tail is one
unit repeated back to back; the caller stops the model there and keeps one copy.

What counts as a loop: the text ends with the same stretch of ``p`` characters (8 to
:data:`MAX_UNIT`, holding at least :data:`MIN_WORD_CHARS` letters or digits) three times
in a row — twice for a stretch of :data:`LONG_UNIT` characters or more, a paragraph or a
cycle of them — and the repeated run is at least :data:`MIN_RUN` characters long, so
short units need more repeats (a 24-character unit, seven).  Code repeats itself on
purpose (tests, parsers: three of 390 stdlib and sample files did, exactly and back to
back), so inside a fenced code block a unit must come :data:`CODE_REPEATS` times.  When
an answer still repeats on purpose that often, it is cut there and says why.
"""

from __future__ import annotations

MAX_UNIT = 800  # longest repeated stretch looked for (a paragraph)
MIN_UNIT = 8
MIN_WORD_CHARS = 6  # letters or digits a unit must hold: "----" or "   " is not a loop
MIN_REPEATS = 3
LONG_UNIT = 200  # from this length two copies back to back are a loop
CODE_REPEATS = 6  # copies needed inside a fenced code block
MIN_RUN = 160  # characters the repeated run must cover before it counts
_PROBE = 6  # the text's last characters, looked up earlier to find candidate units


class LoopGuard:
    """Fed the streamed text piece by piece; :meth:`feed` returns True once the tail loops."""

    def __init__(self) -> None:
        self.text = ""
        self.unit = 0  # the repeated stretch's length, once a loop was found
        self.run_start = 0  # where the repeating run begins (its first copy)

    def feed(self, delta: str) -> bool:
        self.text += delta
        if self.unit or len(self.text) < MIN_RUN:
            return bool(self.unit)
        return self._check()

    @property
    def looping(self) -> bool:
        return bool(self.unit)

    def kept(self) -> str:
        """The text up to the end of the loop's first whole copy (the whole text when there was none).

        The run can start inside an earlier sentence that ends like the repeated one, so the
        copy kept is the first one that starts at a line or sentence start.
        """
        if not self.unit:
            return self.text
        text, start, unit = self.text, self.run_start, self.unit
        begin = next((i for i in range(start, start + unit) if _starts_sentence(text, i)), start)
        return text[:begin + unit].rstrip()

    def _check(self) -> bool:
        text = self.text
        n = len(text)
        probe = text[-_PROBE:]
        window_start = max(0, n - MAX_UNIT - _PROBE)  # a candidate unit starts no further back
        in_code = text.count("```") % 2 == 1
        # every earlier place the last characters occur gives one candidate unit length
        end = n - 1
        while True:
            pos = text.rfind(probe, window_start, end)
            if pos < 0:
                return False
            unit = n - _PROBE - pos
            end = pos + _PROBE - 1
            if unit < MIN_UNIT:
                continue
            if unit * 2 > n or unit > MAX_UNIT:
                return False  # candidates only grow from here
            if self._loops(unit, in_code):
                return True

    def _loops(self, unit: int, in_code: bool) -> bool:
        text = self.text
        n = len(text)
        last = text[n - unit:]
        if text[n - 2 * unit:n - unit] != last:  # the cheap test first: most candidates fail it
            return False
        repeats = CODE_REPEATS if in_code else 2 if unit >= LONG_UNIT else MIN_REPEATS
        if unit * repeats > n or any(text[n - (k + 1) * unit:n - k * unit] != last for k in range(2, repeats)):
            return False
        if sum(ch.isalnum() for ch in last) < MIN_WORD_CHARS:
            return False
        start = n - repeats * unit  # walk back while the text keeps the same period
        while start > 0 and text[start - 1] == text[start - 1 + unit]:
            start -= 1
        if n - start < max(MIN_RUN, repeats * unit):
            return False
        self.unit, self.run_start = unit, start
        return True


def _starts_sentence(text: str, i: int) -> bool:
    """Whether ``text[i:]`` begins a line or a sentence."""
    return i == 0 or text[i - 1] == "\n" or (text[i - 1] == " " and text[i - 2:i - 1] in (".", "?", "!", ":"))
