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


@dataclass
class GenerationStats:
    """Timings of the last generation (seconds; tokens counted by the model's tokenizer)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""  # stop, length, cancelled, error

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
