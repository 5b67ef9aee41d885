"""The one model interface every task (completion, answers, patches, evaluation) uses.

A backend streams text for a raw prompt (completion, FIM) or for chat messages,
counts tokens with the model's own tokenizer, can be cancelled mid-stream via a
``threading.Event`` and reports timings of its last generation.  Local
transformers models and OpenAI-compatible HTTP endpoints both implement it, so
the rest of the app never knows which one it talks to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation (role: system, user or assistant)."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class GenerationParams:
    """Sampling settings for one generation. ``temperature == 0`` means greedy."""

    max_new_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    # Benchmarks need exactly ``max_new_tokens`` tokens: ignore the end-of-sequence token.
    ignore_eos: bool = False


@dataclass
class GenerationStats:
    """Timings of the last generation (seconds; tokens counted by the model's tokenizer)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""  # stop, length, cancelled, error; "repetition": the answer looped (session)

    @property
    def tokens_per_s(self) -> float:
        decode = self.total_s - self.time_to_first_token_s
        if self.completion_tokens <= 1 or decode <= 0:
            return 0.0
        return (self.completion_tokens - 1) / decode


@runtime_checkable
class Backend(Protocol):
    """What a model backend provides.  Implementations: ``local.LocalBackend``, ``openai_http.OpenAIBackend``."""

    @property
    def model_name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    @property
    def device(self) -> str: ...

    @property
    def last_stats(self) -> GenerationStats: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        """Raw-prompt completion (no chat template): used for FIM and prefix completion."""
        ...

    def stream_chat(
        self, messages: list[ChatMessage], params: GenerationParams, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        """Chat completion with the model's own chat template."""
        ...


@runtime_checkable
class BatchedBackend(Backend, Protocol):
    """A backend that samples several continuations of one prompt in one batch.

    On a memory-bound model a batch of 2-5 costs little more than one sequence,
    which makes best-of-n (patches) and pass@k (evaluation) cheap.  Events are
    ``(index, text_delta)`` pairs, ``index`` in ``range(n)``.
    """

    def stream_n(
        self, prompt: str, params: GenerationParams, n: int, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, str]]: ...

    def stream_chat_n(
        self, messages: list[ChatMessage], params: GenerationParams, n: int,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, str]]: ...


def generate(backend: Backend, prompt: str, params: GenerationParams,
             cancel: threading.Event | None = None) -> str:
    """The whole text of one raw-prompt generation (convenience over ``stream``)."""
    return "".join(backend.stream(prompt, params, cancel))


def generate_chat(backend: Backend, messages: list[ChatMessage], params: GenerationParams,
                  cancel: threading.Event | None = None) -> str:
    """The whole text of one chat generation (convenience over ``stream_chat``)."""
    return "".join(backend.stream_chat(messages, params, cancel))


def sample_n(backend: Backend, prompt: str | list[ChatMessage], params: GenerationParams, n: int,
             cancel: threading.Event | None = None) -> list[str]:
    """``n`` sampled completions of a raw prompt or a conversation.

    Uses the backend's batched sampling when it has one, else ``n`` sequential
    generations; with a seed, the sequential fallback uses ``seed + i`` so the
    samples differ but stay reproducible.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    texts = [""] * n
    if isinstance(backend, BatchedBackend):
        events = (backend.stream_n(prompt, params, n, cancel) if isinstance(prompt, str)
                  else backend.stream_chat_n(prompt, params, n, cancel))
        for index, delta in events:
            texts[index] += delta
        return texts
    for i in range(n):
        if cancel is not None and cancel.is_set():
            break
        one = GenerationParams(**{**params.__dict__, "stop": list(params.stop),
                                  "seed": None if params.seed is None else params.seed + i})
        texts[i] = (generate(backend, prompt, one, cancel) if isinstance(prompt, str)
                    else generate_chat(backend, prompt, one, cancel))
    return texts
