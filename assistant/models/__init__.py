"""Model backends behind one interface (see ``base.py``), and how to get one from the settings.

Import-light on purpose: torch and transformers are imported by the functions
that need them, so ``import assistant.models`` is instant.

- :func:`load_backend` builds the local transformers backend or the
  OpenAI-compatible HTTP backend from ``settings.backend``.
- :func:`token_counter` counts tokens with the model's own tokenizer without
  loading its weights (cached per model), for context budgeting.
- :func:`context_window` is the model's window (the override, the preset, or the config).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.models.base import (
    Backend,
    BatchedBackend,
    ChatMessage,
    GenerationParams,
    GenerationStats,
    generate,
    generate_chat,
    sample_n,
)
from base.config import ModelSettings
from base.cpu import CpuPolicy
from base.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "Backend",
    "BatchedBackend",
    "ChatMessage",
    "GenerationParams",
    "GenerationStats",
    "context_window",
    "generate",
    "generate_chat",
    "load_backend",
    "sample_n",
    "token_counter",
]


def load_backend(settings: ModelSettings, *, progress: Callable[[str], None] | None = None,
                 threads: int | None = None, cpu: CpuPolicy | None = None) -> Backend:
    """The backend ``settings`` describe: ``local`` (transformers) or ``openai`` (HTTP).

    ``cpu`` is the process's CPU policy (how generation shares the cores with an embedder).
    """
    kind = settings.backend.strip().lower()
    if kind == "local":
        from assistant.models.local import load_local_backend

        return load_local_backend(settings, progress=progress, threads=threads, cpu=cpu)
    if kind == "openai":
        from assistant.models.openai_http import OpenAIBackend

        return OpenAIBackend.from_settings(settings, progress=progress)
    raise ConfigError(f"unknown model.backend '{settings.backend}'", hint="use local or openai")


@functools.lru_cache(maxsize=8)
def _tokenizer_for(name: str, local_only: bool = False) -> object | None:
    """The transformers tokenizer of model ``name`` (for family detection, which reads its special tokens)."""
    from assistant.models.resolve import load_tokenizer, resolve_source

    return load_tokenizer(resolve_source(name), local_only=local_only)


@functools.lru_cache(maxsize=8)
def _counter_for(name: str, local_only: bool = False) -> Callable[[str], int]:
    """A token counter for model ``name``: its ``tokenizer.json`` read directly when it is on disk.

    Counting tokens is all budgeting needs, and the ``tokenizers`` library reads the same
    ``tokenizer.json`` a fast transformers tokenizer wraps (same ids), without importing
    transformers and torch (seconds at every CLI start).  Anything else (a slow tokenizer,
    a model not downloaded yet) goes through transformers.
    """
    from assistant.models.resolve import resolve_source

    path = _tokenizer_file(resolve_source(name))
    if path is not None:
        from tokenizers import Tokenizer

        fast = Tokenizer.from_file(str(path))
        return lambda text: len(fast.encode(text, add_special_tokens=False).ids)
    tokenizer: Any = _tokenizer_for(name, local_only)
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def _tokenizer_file(source: Any) -> Path | None:
    """The ``tokenizer.json`` of ``source`` when it is already on this machine (never downloads)."""
    folder: Path | None = None
    if source.kind == "gguf":
        from assistant.models.gguf_cache import cache_dir_for, is_complete

        full = cache_dir_for(Path(source.location))
        tokenizer_only = full.with_name(full.name + "-tokenizer")
        folder = next((d for d in (full, tokenizer_only) if is_complete(d)), None)
    elif source.kind == "dir":
        folder = Path(source.location)
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(source.location, "tokenizer.json")
        except Exception:  # an id the hub client rejects: the slow path says why
            return None
        return Path(cached) if isinstance(cached, str) else None
    candidate = folder / "tokenizer.json" if folder is not None else None
    return candidate if candidate is not None and candidate.is_file() else None


def token_counter(settings: ModelSettings) -> Callable[[str], int]:
    """Count tokens as the model does, without loading weights (the tokenizer is cached).

    For an HTTP backend whose model name does not resolve to a local tokenizer
    (a preset still downloads nothing offline), counts are estimated from the
    length of the text, erring on the high side.
    """
    from base.errors import ModelUnavailableError

    remote = settings.backend.strip().lower() == "openai"
    try:
        return _counter_for(settings.name.strip(), remote)
    except ModelUnavailableError:
        if settings.backend.strip().lower() != "openai":
            raise
        log.info("no local tokenizer for %s: estimating token counts", settings.name)
        from base.tokens import estimate_tokens

        return estimate_tokens


def context_window(settings: ModelSettings) -> int:
    """The model's context window: the override, else the preset's, else its config's."""
    if settings.context_window > 0:
        return settings.context_window
    from assistant.models.families import DEFAULT_CONTEXT_WINDOW, config_context_window
    from assistant.models.presets import get_preset
    from assistant.models.resolve import load_config, resolve_source

    preset = get_preset(settings.name)
    if preset is not None:
        return preset.context_window
    try:
        return config_context_window(load_config(resolve_source(settings.name))) or DEFAULT_CONTEXT_WINDOW
    except Exception:
        if settings.backend.strip().lower() == "openai":
            return DEFAULT_CONTEXT_WINDOW
        raise
