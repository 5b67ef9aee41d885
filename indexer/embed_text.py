"""The text a chunk is embedded as, shared by the pipeline and the ONNX exporter's verification sample.

Its own module so that :mod:`indexer.onnx_export` can build samples exactly as the
pipeline embeds chunks without importing the pipeline (which imports the embedder,
which imports the exporter: a cycle).
"""

from __future__ import annotations

from indexer.types import Chunk

# Bump when embedding_text changes: it is part of every vector cache key.
EMBED_TEXT_VERSION = 1


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees: where the chunk lives, what it is, then its code (trimmed by the tokenizer)."""
    title = f"{chunk.path} {chunk.symbol}".strip()
    parts = [title, chunk.header, chunk.text] if chunk.header else [title, chunk.text]
    return "\n".join(parts)
