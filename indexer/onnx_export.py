"""Export a sentence-transformers model to ONNX once, verify it, and cache it.

A careless export (traced without padding) silently ignores the attention mask and
changes the vectors (cosine to torch as low as 0.86), so this module:

1. exports the transformer with ``torch.onnx.export`` from a wrapper whose inputs are
   ``input_ids``, ``attention_mask`` (and ``token_type_ids``), with dynamic batch and
   sequence axes, traced on a *padded* batch;
2. checks the fp32 export against the torch model on a fixed, padded sample of real
   code and queries (cosine ≥ 0.999 or it is rejected);
3. quantises its feed-forward layers with onnxruntime's per-channel int8 dynamic
   quantisation (attention stays fp32, see :func:`_attention_matmuls`) and keeps the
   int8 model only if every sample stays within cosine ≥ 0.99 of torch.

Results live in ``<user cache>/onnx/<model>-<weights hash>/`` (written atomically,
under a lock so two processes never export at once) with a ``verify.json`` that
records the measured cosines and the chosen flavour.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from assistant.paths import ensure_dir, user_cache_dir

EXPORT_VERSION = 2
FP32_MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.99

_SAMPLE_MODULES = ("json/decoder.py", "textwrap.py", "heapq.py", "bisect.py", "shlex.py", "fnmatch.py",
                   "csv.py", "string.py", "colorsys.py", "graphlib.py", "calendar.py", "difflib.py",
                   "ipaddress.py", "statistics.py", "dataclasses.py", "argparse.py")
_SAMPLE_QUERIES = ("where are prices rounded", "parse the configuration file", "retry with backoff",
                   "def total(self)", "how is the stock reserved when an order is placed")


class OnnxUnavailable(Exception):
    """The ONNX path cannot be used for this model (missing package, failed export or check)."""


def verification_sample() -> list[str]:
    """Real code of varied length (from the running Python's stdlib) plus short queries."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for i, name in enumerate(_SAMPLE_MODULES):
        path = stdlib / name
        if path.is_file():
            source = path.read_text(encoding="utf-8", errors="replace")
            middle = len(source) // 3
            texts.append(source[middle:middle + 300 + 150 * i])
    return texts + list(_SAMPLE_QUERIES)


def weights_hash(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cache_dir_for(model_dir: Path) -> Path:
    return user_cache_dir() / "onnx" / f"{model_dir.name}-{weights_hash(model_dir)}-v{EXPORT_VERSION}"


def ensure_onnx(model_dir: Path) -> tuple[Path, str]:
    """``(onnx file, flavour)`` for the model, exporting and verifying it on first use."""
    try:
        import onnx  # noqa: F401  (the exporter and the quantiser need it)
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise OnnxUnavailable(f"{exc.name} is not installed") from exc
    target = ensure_dir(cache_dir_for(model_dir))
    verify_file = target / "verify.json"
    with _locked(target / ".lock"):
        if verify_file.is_file():
            info = json.loads(verify_file.read_text())
            chosen = target / info["file"]
            if chosen.is_file():
                return chosen, info["flavour"]
        info = _export_and_verify(model_dir, target)
        tmp = verify_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, verify_file)
    return target / info["file"], info["flavour"]


def _torch_reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    return np.asarray(model.encode(texts, batch_size=len(texts), normalize_embeddings=True), dtype=np.float32)


def _export_and_verify(model_dir: Path, target: Path) -> dict[str, object]:
    import warnings

    import torch
    from transformers import AutoModel

    from indexer.embedder import quiet_transformers

    quiet_transformers()
    try:
        base = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    except Exception as exc:
        raise OnnxUnavailable(f"cannot load the transformer ({type(exc).__name__})") from exc
    uses_token_types = "token_type_ids" in base.forward.__code__.co_varnames

    class _Wrapper(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            return self.model(**kwargs).last_hidden_state

    # Trace on a padded batch so the mask path is exercised, never a single unpadded row.
    ids = torch.ones((2, 12), dtype=torch.long)
    mask = torch.ones((2, 12), dtype=torch.long)
    mask[1, 7:] = 0
    inputs: tuple[torch.Tensor, ...] = (ids, mask, torch.zeros_like(ids)) if uses_token_types else (ids, mask)
    names = ["input_ids", "attention_mask", "token_type_ids"][:len(inputs)]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    fp32 = target / "model.onnx"
    tmp = target / f"model.{os.getpid()}.tmp.onnx"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes: the checks below are what count
            torch.onnx.export(_Wrapper(base), inputs, str(tmp), input_names=names,
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                              dynamo=False, external_data=False)
        os.replace(tmp, fp32)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise OnnxUnavailable(f"export failed ({type(exc).__name__}: {exc})") from exc

    from indexer.embedder import OnnxEmbedder

    sample = verification_sample()
    reference = _torch_reference(model_dir, sample)
    fp32_cos = _cosines(OnnxEmbedder("verify", model_dir, fp32, "onnx-fp32", 0, 512).embed(sample, 64), reference)
    if fp32_cos.min() < FP32_MIN_COSINE:
        raise OnnxUnavailable(f"ONNX export does not match torch (min cosine {fp32_cos.min():.4f})")
    info: dict[str, object] = {"file": "model.onnx", "flavour": "onnx-fp32", "fp32_min_cosine": float(fp32_cos.min()),
                               "sample_size": len(sample)}
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = target / "model-int8.onnx"
        tmp8 = target / f"model-int8.{os.getpid()}.tmp.onnx"
        quiet = logging.getLogger()
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # onnxruntime's quantiser logs advice on the root logger
        try:
            quantize_dynamic(str(fp32), str(tmp8), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=_attention_matmuls(fp32))
        finally:
            quiet.setLevel(level)
        os.replace(tmp8, int8)
        int8_cos = _cosines(OnnxEmbedder("verify", model_dir, int8, "onnx-int8", 0, 512).embed(sample, 64),
                            reference)
        info["int8_min_cosine"] = float(int8_cos.min())
        info["int8_mean_cosine"] = float(int8_cos.mean())
        if int8_cos.min() >= INT8_MIN_COSINE:
            info.update(file=int8.name, flavour="onnx-int8")
    except Exception as exc:  # quantisation is an optimisation: fp32 stays valid
        info["int8_error"] = f"{type(exc).__name__}: {exc}"
    return info


def _attention_matmuls(path: Path) -> list[str]:
    """MatMul nodes inside attention blocks: kept in fp32.

    Measured on MiniLM: quantising every MatMul gives min cosine ~0.978 to torch on real
    code; keeping the attention projections in fp32 (the feed-forward layers, two thirds of
    the weights, still run in int8) keeps every real-code sample at ≥ 0.99.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and "attention" in n.name.lower()]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)
