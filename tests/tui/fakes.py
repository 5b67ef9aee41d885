"""A scripted model for the deterministic snapshot tests (and only for them).

It implements the real ``Backend`` protocol, streams a fixed reply word by word
and honours cancellation, so the app runs its real code paths; only the text is
canned, so a screenshot is the same on every run.  Every flow that generates
text is also tested with the real embedded model (``test_flows_model.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from assistant.models.base import ChatMessage, GenerationParams, GenerationStats

ANSWER = (
    "The price of an order is computed by `compute_order_total` in "
    "shopcore/pricing/calculator.py:60-95: it sums each line's net amount, "
    "applies the coupon and adds VAT per line.\n\n"
    "```python\ntotals = compute_order_total(order.lines, coupon)\n```\n"
)


def count_words(text: str) -> int:
    """A deterministic token count (about one token per 4 characters)."""
    return max(1, len(text) // 4) if text else 0


class ScriptedBackend:
    """Replies with ``reply(messages)``; ``gate`` (when given) holds each token until it is set."""

    def __init__(self, reply: Callable[[list[ChatMessage]], str] | str = ANSWER) -> None:
        self._reply = reply
        self._stats = GenerationStats()
        self.calls: list[list[ChatMessage]] = []

    @property
    def model_name(self) -> str:
        return "scripted-model"

    @property
    def context_window(self) -> int:
        return 8192

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def last_stats(self) -> GenerationStats:
        return self._stats

    def count_tokens(self, text: str) -> int:
        return count_words(text)

    def _text_for(self, messages: list[ChatMessage]) -> str:
        return self._reply(messages) if callable(self._reply) else self._reply

    def stream(self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None) -> Iterator[str]:
        yield from self._emit(self._text_for([ChatMessage("user", prompt)]), params, cancel)

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        self.calls.append(list(messages))
        yield from self._emit(self._text_for(messages), params, cancel)

    def _emit(self, text: str, params: GenerationParams, cancel: threading.Event | None) -> Iterator[str]:
        pieces = [p + " " for p in text.split(" ")]
        pieces[-1] = pieces[-1][:-1]
        emitted = 0
        for piece in pieces[: max(1, params.max_new_tokens)]:
            if cancel is not None and cancel.is_set():
                break
            emitted += 1
            yield piece
        # Fixed timings keep the status bar's tokens/s identical in every snapshot.
        self._stats = GenerationStats(prompt_tokens=100, completion_tokens=emitted, time_to_first_token_s=0.1,
                                      total_s=0.1 + (emitted - 1) / 20 if emitted > 1 else 0.1,
                                      finish_reason="cancelled" if cancel and cancel.is_set() else "stop")
