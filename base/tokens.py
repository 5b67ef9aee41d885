"""The one token estimate, for when the model's own tokenizer is not at hand.

A budget met with this count is met with the real tokenizer too: code tokenizers
average 3.5 to 4.5 UTF-8 bytes per token, so dividing by 3 over-counts.  Used by
retrieval (the ``context`` command without a tokenizer), the HTTP backend (a remote
model whose tokenizer is unknown) and the model layer's fallback counter.
"""

from __future__ import annotations

BYTES_PER_TOKEN = 3
ESTIMATE_NAME = "estimate (UTF-8 bytes / 3, over-counts)"


def estimate_tokens(text: str) -> int:
    """A token count that is never below a BPE tokenizer's for code and English."""
    return len(text.encode("utf-8")) // BYTES_PER_TOKEN + 1 if text else 0
