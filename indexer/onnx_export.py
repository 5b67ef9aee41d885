"""Export a sentence-transformers model to ONNX once, verify it, make it fast, and cache it.

A careless export (traced without padding) silently ignores the attention mask and
changes the vectors (cosine to torch as low as 0.86), so this module:

1. exports the transformer with ``torch.onnx.export`` from a wrapper whose inputs are
   ``input_ids``, ``attention_mask`` (and ``token_type_ids``), with dynamic batch and
   sequence axes, traced on a *padded* batch, with the plain ("eager") attention so
   that onnxruntime's transformer optimiser can recognise and fuse it;
2. fuses attention, GELU, layer norms and the embeddings for BERT-family models, but *not*
   the skip-layer-norm and bias-GELU fusions: onnxruntime's CPU kernels for those two are
   slower than the plain Add + LayerNormalization / Add + Gelu they replace (measured on
   all-MiniLM-L6-v2, 2 cores, int8: 143 → 197 chunks/s without them; the embedder's
   session disables them too, see :data:`indexer.embedder_base.SLOW_CPU_FUSIONS`);
3. checks the fp32 model against the torch model on a padded sample of real code and
   queries at two truncation lengths (cosine ≥ 0.999 or it is rejected);
4. *smooths* the inputs of the attention and feed-forward projections (SmoothQuant):
   BERT activations carry a few outlier channels (one feed-forward channel of
   all-MiniLM-L6-v2 reaches 24 where the rest stay under 3), and dynamic int8 uses one
   scale per tensor, so the outliers cost every other channel its precision.  A per-channel
   ``Mul`` divides each input channel by ``s`` and the weight rows are multiplied by ``s``
   (exact in fp32), with ``s = max|x|^α / max|w|^(1-α)`` from activations measured on
   calibration chunks that are not in the verification sample;
5. quantises the matrix multiplications to int8 (onnxruntime dynamic quantisation,
   per-channel weights).  Quantising everything is fastest but leaves a few short texts
   just under ``INT8_MIN_COSINE``, so the feed-forward output projections (whose inputs,
   GELU outputs, have the widest range) are measured one by one and kept in fp32, most
   harmful first, until every sample text is within cosine 0.99 of torch; then the
   attention, then the whole model stays fp32.  For MiniLM: smoothing + one projection
   in fp32 → min cosine 0.996 at 182 chunks/s (without smoothing two were needed: 0.992).

Results live in ``<user cache>/onnx/<model>-<weights hash>/`` (written atomically,
under a lock so two processes never export at once) with a ``verify.json`` that
records the measured cosines, the nodes left in fp32 and the chosen flavour.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from base.paths import ensure_dir, user_cache_dir
from indexer.embed_text import embedding_text
from indexer.embedder_base import OnnxEmbedder, pooling_config, quiet_transformers

log = logging.getLogger(__name__)

EXPORT_VERSION = 5
FP32_MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.99
# Measured on MiniLM (min cosine to torch over the sample, all int8 / after the fp32 fallback below):
# 0.5 → 0.980 / 0.991 (2 layers fp32), 0.6 → 0.986 / 0.995 (1), 0.7 → 0.987 / 0.996 (1), 0.8 → 0.982 / 0.995 (1).
SMOOTHING_ALPHA = 0.7

_SAMPLE_MODULES = ("json/decoder.py", "textwrap.py", "heapq.py", "bisect.py", "shlex.py", "fnmatch.py",
                   "csv.py", "string.py", "colorsys.py", "graphlib.py", "calendar.py", "difflib.py",
                   "ipaddress.py", "statistics.py", "dataclasses.py", "argparse.py")
_CALIBRATION_MODULES = ("email/message.py", "http/client.py", "logging/__init__.py", "tarfile.py",
                        "pathlib.py", "configparser.py", "smtplib.py", "inspect.py", "typing.py", "enum.py")
_SAMPLE_QUERIES = ("where are prices rounded", "parse the configuration file", "retry with backoff",
                   "def total(self)", "how is the stock reserved when an order is placed")


class OnnxUnavailable(Exception):
    """The ONNX path cannot be used for this model (missing package, failed export or check)."""


def verification_sample() -> list[str]:
    """Real chunks as the indexer embeds them (stdlib modules, short to long) plus short queries.

    Ten chunks per module spread over its length range (≈160 texts): the int8 check takes the
    *minimum* cosine, and short chunks (class stubs, one-line methods) are where quantisation
    noise shows most, so the sample must hold them as well as long ones.
    """
    return _stdlib_chunk_texts(_SAMPLE_MODULES, 10) + list(_SAMPLE_QUERIES)


def calibration_sample() -> list[str]:
    """Chunks from *other* modules than the verification sample: the smoothing scales are fitted here."""
    return _stdlib_chunk_texts(_CALIBRATION_MODULES, 20)


def _stdlib_chunk_texts(modules: tuple[str, ...], per_module: int) -> list[str]:
    from indexer.chunker import chunk_file

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for name in modules:
        path = stdlib / name
        if not path.is_file():
            continue
        chunks = chunk_file(name, path.read_text(encoding="utf-8", errors="replace"), "python").chunks
        by_length = sorted((embedding_text(c) for c in chunks), key=len)
        step = max(1, len(by_length) // per_module)
        texts += by_length[::step][:per_module]
    return texts


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


def ensure_onnx(model_dir: Path, progress: Say | None = None) -> tuple[Path, str]:
    """``(onnx file, flavour)`` for the model, exporting and verifying it on first use.

    ``progress`` hears each step of a first-time export (about a minute on two cores);
    a cached export says nothing.
    """
    say = progress or (lambda _message: None)
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
        info = _export_and_verify(model_dir, target, say)
        say(f"done: {info['flavour']}")
        tmp = verify_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, verify_file)
    _remove_older_exports(target)
    return target / info["file"], info["flavour"]


def _remove_older_exports(current: Path) -> None:
    """Exports of the same weights by an older version of this module (~115 MB each) are dead weight."""
    stem = current.name.rsplit("-v", 1)[0]
    for old in current.parent.glob(f"{stem}-v*"):
        version = old.name.rsplit("-v", 1)[1]
        if old != current and version.isdigit() and int(version) < EXPORT_VERSION:
            shutil.rmtree(old, ignore_errors=True)


VERIFY_LENGTHS = (128, 256)  # the default truncation and the model's own limit


def _torch_reference(model_dir: Path, texts: list[str], lengths: tuple[int, ...]) -> dict[int, np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    out: dict[int, np.ndarray] = {}
    for length in lengths:
        model.max_seq_length = length
        out[length] = np.asarray(model.encode(texts, batch_size=16, normalize_embeddings=True), dtype=np.float32)
    return out


Checker = Callable[[Path, str], np.ndarray]
Say = Callable[[str], None]  # one step of a first-time export, in words (the indexer turns it into progress)


def _checker(model_dir: Path, sample: list[str], reference: dict[int, np.ndarray], say: Say) -> Checker:
    """``check(onnx file, flavour)`` → per-text cosines to torch, over every verified length.

    Each check says so through ``say``: the int8 search runs a dozen of them, each a few
    seconds, and the user watches this step on the first ``index``.
    """
    checks = 0

    def check(path: Path, flavour: str) -> np.ndarray:
        nonlocal checks
        checks += 1
        say(f"checking the {flavour} model against torch (check {checks})")
        embedder = OnnxEmbedder("verify", model_dir, path, flavour, 0, max(reference))
        cosines = []
        for length, expected in reference.items():
            embedder.set_max_tokens(length)
            cosines.append(_cosines(embedder.embed(sample, 16), expected))
        return np.concatenate(cosines)

    return check


def _export_and_verify(model_dir: Path, target: Path, say: Say) -> dict[str, object]:
    fp32 = target / "model.onnx"
    say("exporting the transformer to ONNX")
    config = _export(model_dir, target / "model-raw.onnx")
    sample = verification_sample()
    say("computing reference vectors with torch")
    reference = _torch_reference(model_dir, sample, tuple(n for n in VERIFY_LENGTHS if n <= _model_max(model_dir)))
    check = _checker(model_dir, sample, reference, say)
    raw_cos = check(target / "model-raw.onnx", "onnx-fp32")
    if raw_cos.min() < FP32_MIN_COSINE:
        raise OnnxUnavailable(f"ONNX export does not match torch (min cosine {raw_cos.min():.4f})")
    info: dict[str, object] = {"file": "model.onnx", "flavour": "onnx-fp32", "sample_size": len(sample),
                               "lengths": sorted(reference), "fp32_min_cosine": float(raw_cos.min())}
    say("fusing attention and layer norms")
    fused = _fuse(target / "model-raw.onnx", target / "model-fused.onnx", config)
    if fused is not None:
        fused_cos = check(fused, "onnx-fp32")
        info["fused"] = bool(fused_cos.min() >= FP32_MIN_COSINE)
        info["fused_min_cosine"] = float(fused_cos.min())
    os.replace(fused if info.get("fused") else target / "model-raw.onnx", fp32)
    for leftover in (target / "model-raw.onnx", target / "model-fused.onnx"):
        leftover.unlink(missing_ok=True)
    say("quantising to int8")
    try:
        info.update(_quantise(fp32, target / "model-int8.onnx", check, model_dir))
    except Exception as exc:  # quantisation is an optimisation: fp32 stays valid
        info["int8_error"] = f"{type(exc).__name__}: {exc}"
    return info


def _model_max(model_dir: Path) -> int:
    return pooling_config(model_dir)[2]


def _export(model_dir: Path, out: Path) -> Any:
    """Trace the transformer (eager attention where the model has it) to ``out``; returns its config."""
    import warnings

    import torch
    from transformers import AutoModel

    quiet_transformers()
    try:
        try:
            base = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
        except (TypeError, ValueError):  # a model without selectable attention
            base = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    except Exception as exc:
        raise OnnxUnavailable(f"cannot load the transformer ({type(exc).__name__})") from exc
    base.eval()
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
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.onnx")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes: the checks are what count
            torch.onnx.export(_Wrapper(base), inputs, str(tmp), input_names=names,
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                              dynamo=False, external_data=False)
        os.replace(tmp, out)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise OnnxUnavailable(f"export failed ({type(exc).__name__}: {exc})") from exc
    return base.config


_BERT_LIKE = frozenset({"bert", "roberta", "xlm-roberta", "camembert"})


def _fuse(source: Path, out: Path, config: Any) -> Path | None:
    """onnxruntime's transformer fusions for BERT-family models; ``None`` when not applicable."""
    if getattr(config, "model_type", "") not in _BERT_LIKE:
        return None
    try:
        from onnxruntime.transformers import optimizer
        from onnxruntime.transformers.fusion_options import FusionOptions

        options = FusionOptions("bert")
        options.enable_skip_layer_norm = False  # slower on CPU than Add + LayerNormalization
        options.enable_bias_skip_layer_norm = False
        options.enable_bias_gelu = False  # slower on CPU than Add + Gelu
        with _quiet_root_logger():
            model = optimizer.optimize_model(str(source), model_type="bert", use_gpu=False, opt_level=1,
                                             num_heads=int(config.num_attention_heads),
                                             hidden_size=int(config.hidden_size), optimization_options=options)
            model.save_model_to_file(str(out))
    except Exception as exc:  # fusion is an optimisation: the raw export stays valid
        log.info("ONNX fusion failed (%s); using the unfused graph", exc)
        return None
    return out


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's optimiser and quantiser log advice on the root logger: keep it off the terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _quantise(fp32: Path, out: Path, check: Checker, model_dir: Path) -> dict[str, object]:
    """Int8 with the fewest fp32 exceptions that keeps every sample within ``INT8_MIN_COSINE``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    info: dict[str, object] = {}
    smoothed = out.with_name("model-smoothed.onnx")
    source = _smoothed_or_none(fp32, smoothed, check, model_dir, info) or fp32
    graph = onnx.load(str(source), load_external_data=False).graph
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.onnx")

    def quantised(exclude: list[str]) -> np.ndarray:
        with _quiet_root_logger():
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=exclude,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        return check(tmp, "onnx-int8")

    try:
        exclude: list[str] = []
        cosines = quantised(exclude)
        if cosines.min() < INT8_MIN_COSINE:
            # Sensitivity: how much better does the model get with each candidate kept in fp32?
            candidates = _ffn_output_matmuls(graph)
            gain = {name: float(quantised([name]).mean()) for name in candidates}
            for name in sorted(candidates, key=lambda n: -gain[n]):
                exclude.append(name)
                cosines = quantised(exclude)
                if cosines.min() >= INT8_MIN_COSINE:
                    break
        if cosines.min() < INT8_MIN_COSINE:  # last resort: everything but the feed-forward layers in fp32
            exclude = _attention_matmuls(graph)
            cosines = quantised(exclude)
        info.update(int8_min_cosine=float(cosines.min()), int8_mean_cosine=float(cosines.mean()),
                    int8_fp32_nodes=exclude)
        if cosines.min() >= INT8_MIN_COSINE:
            os.replace(tmp, out)
            info.update(file=out.name, flavour="onnx-int8")
    finally:
        tmp.unlink(missing_ok=True)
        smoothed.unlink(missing_ok=True)
    return info


def _smoothed_or_none(fp32: Path, out: Path, check: Checker, model_dir: Path,
                      info: dict[str, object]) -> Path | None:
    """The smoothed fp32 model when smoothing applies and keeps fp32 exact; notes the outcome in ``info``."""
    try:
        count = _smooth(fp32, out, model_dir, calibration_sample(), SMOOTHING_ALPHA)
        if count == 0:
            info["smoothing"] = "no projection to smooth"
            return None
        cosines = check(out, "onnx-fp32")
        info["smoothing"] = {"alpha": SMOOTHING_ALPHA, "projections": count, "fp32_min_cosine": float(cosines.min())}
        return out if cosines.min() >= FP32_MIN_COSINE else None
    except Exception as exc:  # smoothing is an optimisation: plain quantisation stays valid
        info["smoothing"] = f"failed: {type(exc).__name__}: {exc}"
        return None


def _smooth(source: Path, out: Path, model_dir: Path, texts: list[str], alpha: float) -> int:
    """SmoothQuant the attention and feed-forward projections (see the module docstring).

    For each projection ``y = x W`` with a weight used nowhere else: ``y = (x / s) (s W)``, where the
    division is a new per-channel ``Mul`` and ``s W`` replaces the weight; exact in fp32, and both
    factors have a narrower range for int8.  Returns how many projections were smoothed.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    targets = _smoothable(graph)
    if not targets:
        return 0
    maxima = _activation_maxima(source, model_dir, texts, sorted({x for x, _ in targets.values()}))
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    smoothed = 0
    for node in graph.node:
        if node.name in targets:
            activation, weight_name = targets[node.name]
            weight = numpy_helper.to_array(weights[weight_name]).astype(np.float32)
            if weight.ndim == 2 and weight.shape[0] == maxima[activation].shape[0]:
                scale = (np.maximum(maxima[activation], 1e-5) ** alpha
                         / np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - alpha))
                scale = (scale / np.median(scale)).astype(np.float32)  # typical channels stay near 1
                weights[weight_name].CopyFrom(numpy_helper.from_array(weight * scale[:, None], weight_name))
                scale_name = f"{node.name}/smooth_scale"
                graph.initializer.append(numpy_helper.from_array(1.0 / scale, scale_name))
                smoothed_input = f"{node.name}/smoothed_input"
                nodes.append(helper.make_node("Mul", [activation, scale_name], [smoothed_input],
                                              name=f"{node.name}/smooth"))
                node.input[0] = smoothed_input
                smoothed += 1
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(out))
    return smoothed


def _smoothable(graph: Any) -> dict[str, tuple[str, str]]:
    """``{node: (activation input, weight)}`` for attention (fused QKV) and feed-forward in/out projections."""
    initialisers = {init.name for init in graph.initializer}
    uses: dict[str, int] = {}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
            consumers.setdefault(name, []).append(node)
    ffn_out = set(_ffn_output_matmuls(graph))

    def feeds_gelu(node: Any) -> bool:
        following = consumers.get(node.output[0], [])
        if len(following) == 1 and following[0].op_type == "Add":
            following = consumers.get(following[0].output[0], [])
        return any(n.op_type in _GELU for n in following)

    found = {}
    for node in graph.node:
        if len(node.input) < 2 or node.input[1] not in initialisers or uses[node.input[1]] != 1:
            continue
        if node.op_type == "Attention" or (node.op_type == "MatMul" and (node.name in ffn_out or feeds_gelu(node))):
            found[node.name] = (node.input[0], node.input[1])
    return found


def _activation_maxima(source: Path, model_dir: Path, texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """Per-channel max |x| of the named tensors over the real (unpadded) tokens of ``texts``."""
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    probe = source.with_name(f"calibration.{os.getpid()}.onnx")
    onnx.save(model, str(probe))
    try:
        embedder = OnnxEmbedder("calibration", model_dir, probe, "onnx-fp32", 0, max(VERIFY_LENGTHS))
        maxima: dict[str, np.ndarray] = {}
        for _, mask, outputs in embedder.batches(texts, 16):
            real = mask.astype(bool)
            for name, value in zip(names, outputs[1:], strict=True):
                channel_max = np.abs(value[real]).max(axis=0)
                maxima[name] = np.maximum(maxima[name], channel_max) if name in maxima else channel_max
        return maxima
    finally:
        probe.unlink(missing_ok=True)


_GELU = frozenset({"Gelu", "BiasGelu", "FastGelu", "QuickGelu"})


def _ffn_output_matmuls(graph: Any) -> list[str]:
    """The second feed-forward projection of each layer: the MatMul fed by the GELU."""
    producers = {output: node for node in graph.node for output in node.output}
    names = []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        source = producers.get(node.input[0])
        if (source is not None and source.op_type in _GELU) or (
                "output/dense" in node.name and "attention" not in node.name.lower()):
            names.append(node.name)
    return names


def _attention_matmuls(graph: Any) -> list[str]:
    """Attention blocks (fused or not): kept in fp32 by the last-resort int8 scheme."""
    return [n.name for n in graph.node
            if n.op_type == "Attention" or (n.op_type == "MatMul" and "attention" in n.name.lower())]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)
