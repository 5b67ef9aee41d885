"""Fixtures for the model layer: the embedded model loaded once per session, and minimal tokenizers.

The embedded SmolLM2 is converted from its GGUF once per machine (about 30 s) into
the user cache dir (shared on purpose: tests leave ``REPO_ASSISTANT_CACHE_DIR``
alone), and later loads take well under a second.  The tokenizers of the other
families cannot be downloaded here, so :func:`make_tokenizer` builds a tiny one
that carries a family's documented special tokens, which is all that family
detection and prompt construction look at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def make_tokenizer(special: Sequence[str], *, eos: str = "<|endoftext|>", unk: str = "<unk>",
                   chat_template: str | None = None, metaspace: bool = False) -> Any:
    """A real ``PreTrainedTokenizerFast`` (word-level) with ``special`` as special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["def", "return", "x", "y", "class", "import", "(", ")", ":", "=", "+", "\n", "<", ">", "_",
             "fim", "prefix", "suffix", "middle", "PRE", "SUF", "MID"]
    vocab = {unk: 0}
    for word in words:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tokenizer.pre_tokenizer = (pre_tokenizers.Metaspace() if metaspace
                               else pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                             pre_tokenizers.Punctuation()]))
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token=unk, eos_token=eos)
    wrapped.add_special_tokens({"additional_special_tokens": [t for t in special if t != eos]})
    if chat_template:
        wrapped.chat_template = chat_template
    return wrapped


@pytest.fixture(scope="session")
def embedded_tokenizer() -> Any:
    """The embedded model's real tokenizer (from the GGUF, cached; no weights loaded)."""
    from assistant.models.resolve import load_tokenizer, resolve_source

    return load_tokenizer(resolve_source("smollm2-135m"))
