"""Sampling n answers for one prompt through the ``Backend`` protocol, with per-sample timings.

Batched sampling (``stream_n`` / ``stream_chat_n``) is used when the backend
offers it — on a memory-bound model a batch of n costs little more than one
sequence — else the n samples are generated one after another.  Time to first
token and total time are measured here, per sample, from the stream itself, so
they mean the same for every backend.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from assistant.models.base import BatchedBackend, ChatMessage, GenerationParams

SYSTEM_PROMPT = "You are an expert Python programmer. You write correct, complete, self-contained code."


@dataclass
class Sample:
    """One generated answer and how long it took."""

    text: str
    ttft_s: float
    total_s: float
    tokens: int

    @property
    def tokens_per_s(self) -> float:
        decode = self.total_s - self.ttft_s
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else 0.0


def chat_messages(user: str, system: str = SYSTEM_PROMPT) -> list[ChatMessage]:
    return [ChatMessage("system", system), ChatMessage("user", user)]


def sample_answers(backend: object, prompt: str | list[ChatMessage], params: GenerationParams, count: int,
                   cancel: threading.Event | None = None) -> list[Sample]:
    """``count`` samples of ``prompt`` (a raw string: completion; messages: chat)."""
    texts = [""] * count
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    if count > 1 and isinstance(backend, BatchedBackend):
        start = time.monotonic()
        events = (backend.stream_n(prompt, params, count, cancel) if isinstance(prompt, str)
                  else backend.stream_chat_n(prompt, params, count, cancel))
        for index, delta in events:
            now = time.monotonic() - start
            first.setdefault(index, now)
            last[index] = now
            texts[index] += delta
        end = time.monotonic() - start
        starts = [0.0] * count
        ends = [last.get(i, end) for i in range(count)]
    else:
        starts, ends = [], []
        for i in range(count):
            if cancel is not None and cancel.is_set():
                break
            one = replace(params, stop=list(params.stop), seed=None if params.seed is None else params.seed + i)
            start = time.monotonic()
            stream = (backend.stream(prompt, one, cancel) if isinstance(prompt, str)  # type: ignore[attr-defined]
                      else backend.stream_chat(prompt, one, cancel))  # type: ignore[attr-defined]
            for delta in stream:
                now = time.monotonic() - start
                first.setdefault(i, now)
                texts[i] += delta
            starts.append(0.0)
            ends.append(time.monotonic() - start)
    samples = []
    for i in range(len(ends)):
        text = texts[i]
        tokens = backend.count_tokens(text) if text else 0  # type: ignore[attr-defined]
        samples.append(Sample(text=text, ttft_s=round(first.get(i, ends[i]) - starts[i], 4),
                              total_s=round(ends[i] - starts[i], 4), tokens=tokens))
    return samples
