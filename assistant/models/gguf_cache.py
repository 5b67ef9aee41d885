"""Turn a GGUF file into a plain safetensors checkpoint once, and reuse it.

transformers reads GGUF files (``gguf_file=``) by converting the tokenizer and
de-quantising every tensor, which takes about 35 s for the embedded 135M model,
and it refuses ``save_pretrained`` on a model loaded that way.  So the first
load copies the de-quantised state dict into a freshly built model of the same
architecture and saves that (weights as safetensors, plus the tokenizer) under
``user_cache_dir()/models/<sha256 prefix of the GGUF>/``; later loads read it in
about 0.1 s.  The cache is written to a temporary directory and renamed into
place, so a conversion that is killed never leaves a half-written cache behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from base.atomic import write_atomic
from base.errors import ModelError
from base.paths import ensure_dir, user_cache_dir

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_COMPLETE_MARKER = "repo-assistant-conversion.json"
_HASH_INDEX = "gguf-hashes.json"


def models_cache_dir() -> Path:
    """Where converted checkpoints live."""
    return user_cache_dir() / "models"


def gguf_sha256(path: Path) -> str:
    """The file's SHA-256, remembered per (path, size, mtime) so big files are hashed once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = models_cache_dir() / _HASH_INDEX
    index: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        index = json.loads(index_path.read_text())
    if key in index:
        return index[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    index[key] = value
    with contextlib.suppress(OSError):
        write_atomic(ensure_dir(models_cache_dir()) / _HASH_INDEX, json.dumps(index, indent=1), private=True)
    return value


def cache_dir_for(gguf: Path) -> Path:
    """The converted checkpoint's directory for ``gguf`` (it may not exist yet)."""
    return models_cache_dir() / f"v{CACHE_VERSION}-{gguf_sha256(gguf)[:16]}"


def is_complete(directory: Path) -> bool:
    """True when ``directory`` holds a finished conversion."""
    return (directory / _COMPLETE_MARKER).is_file() and (directory / "config.json").is_file()


def _publish(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; if another process won the race, keep theirs."""
    try:
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_complete(target):
            # A stale, incomplete directory (from a crashed older version): replace it.
            shutil.rmtree(target, ignore_errors=True)
            raise ModelError(f"could not publish the converted model to {target}",
                             hint="run the command again") from None


def ensure_tokenizer(gguf: Path) -> Path:
    """A directory holding just the tokenizer of ``gguf`` (cheap: no weights are read)."""
    full = cache_dir_for(gguf)
    if is_complete(full):
        return full
    target = full.with_name(full.name + "-tokenizer")
    if is_complete(target):
        return target
    from transformers import AutoTokenizer

    ensure_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "config.json").write_text("{}")
        (tmp / _COMPLETE_MARKER).write_text(json.dumps({"source": str(gguf), "tokenizer_only": True}))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, target)
    return target


def ensure_converted(gguf: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The directory of the plain checkpoint converted from ``gguf``, converting it on first use."""
    target = cache_dir_for(gguf)
    if is_complete(target):
        return target
    say = progress or (lambda _msg: None)
    say(f"Converting {gguf.name} to a cached checkpoint (first use only, about 30-60 s)...")
    started = time.perf_counter()
    ensure_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        _convert(gguf, tmp, say)
        (tmp / _COMPLETE_MARKER).write_text(json.dumps({
            "source": str(gguf), "sha256": gguf_sha256(gguf), "cache_version": CACHE_VERSION,
            "seconds": round(time.perf_counter() - started, 1),
        }))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, target)
    say(f"Converted in {time.perf_counter() - started:.0f} s; cached at {target}")
    log.info("converted %s to %s", gguf, target)
    return target


def _convert(gguf: Path, out: Path, say: Callable[[str], None]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say("  reading the tokenizer...")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    say("  de-quantising the weights...")
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = str(out)
    say("  writing safetensors...")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output embeddings appear as "missing" in some architectures; anything else is a bug.
    real_missing = [k for k in missing if not k.endswith("lm_head.weight")]
    if real_missing or unexpected:
        raise ModelError(f"converting {gguf.name} lost weights: missing={real_missing[:3]} "
                         f"unexpected={list(unexpected)[:3]}")
    del loaded
    plain.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
