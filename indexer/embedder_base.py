"""What both the embedder (which picks a backend) and the ONNX exporter (which verifies one) need.

:class:`Embedder` is the interface, :class:`OnnxEmbedder` runs an exported model with
onnxruntime, :func:`pooling_config` reads how a sentence-transformers model pools its
token vectors.  They live here, not in :mod:`indexer.embedder`, so that
:mod:`indexer.onnx_export` can check its exports with the real embedder without an
import cycle (embedder → onnx_export → embedder).
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# onnxruntime session-level fusions whose CPU kernels are slower than the ops they replace
# (measured in indexer.onnx_export: the exporter leaves them out, the session disables them).
SLOW_CPU_FUSIONS = ("SkipLayerNormFusion", "BiasGeluFusion")


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


def quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings on the user's terminal (they go to the log)."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
