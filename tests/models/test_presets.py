"""Presets, name resolution, the GGUF cache and the `models` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.models import context_window, token_counter
from assistant.models.presets import EMBEDDED, PRESETS, embedded_gguf_path, get_preset
from assistant.models.resolve import resolve_source
from base.config import ModelSettings
from base.cpu import CpuPolicy
from tests.conftest import run_cli


def test_required_presets_exist_with_sane_numbers() -> None:
    names = set(PRESETS)
    for size in ("0.5b", "1.5b", "3b", "7b", "14b", "32b"):
        assert f"qwen2.5-coder-{size}" in names and f"qwen2.5-coder-{size}-instruct" in names
    for name in ("deepseek-coder-1.3b", "deepseek-coder-6.7b", "deepseek-coder-v2-lite", "starcoder2-3b",
                 "starcoder2-7b", "starcoder2-15b", "codellama-7b", "codellama-13b", "codellama-34b", EMBEDDED):
        assert name in names
    seven = PRESETS["qwen2.5-coder-7b"]
    assert 14 < seven.memory_gb("bf16") < 20  # 7.6B x 2 bytes + overhead
    assert seven.memory_gb("4bit") < seven.memory_gb("8bit") < seven.memory_gb("bf16")
    assert seven.context_window == 131_072
    assert not PRESETS["codellama-34b"].fim  # Code Llama 34B was not trained to infill
    assert get_preset("Qwen/Qwen2.5-Coder-7B") is seven


def test_resolution_of_names(tmp_path: Path) -> None:
    embedded = resolve_source(EMBEDDED)
    assert embedded.kind == "gguf" and embedded.location == str(embedded_gguf_path())
    assert resolve_source("qwen2.5-coder-1.5b").location == "Qwen/Qwen2.5-Coder-1.5B"
    (tmp_path / "config.json").write_text("{}")
    assert resolve_source(str(tmp_path)).kind == "dir"
    assert resolve_source("someone/some-model").kind == "hub"


def test_token_counter_and_window_without_weights() -> None:
    from base.config import ModelSettings

    count = token_counter(ModelSettings())
    assert count("") == 0 and count("def f():\n    return 1\n") > 3
    assert context_window(ModelSettings()) == 8192
    assert context_window(ModelSettings(context_window=4000)) == 4000
    assert context_window(ModelSettings(name="starcoder2-7b")) == 16_384
    # An HTTP model whose tokenizer is not local: an estimate, never a network call.
    estimate = token_counter(ModelSettings(name="someone/remote-only", backend="openai"))
    assert estimate("x" * 320) == 320 // 3 + 1


def test_threads_follow_the_cpu_policy() -> None:
    shared = CpuPolicy(shared=True, cores=2)
    assert shared.llm_threads(0) == 2 and shared.embedder_threads(0) == 1
    shared.set_embedding(True)
    assert shared.llm_threads(0) == 1  # the embedder works next to generation: one thread each
    assert shared.llm_threads(3) == 3  # an explicit setting wins
    alone = CpuPolicy(shared=False, cores=2)
    alone.set_embedding(True)
    assert alone.llm_threads(0) == 2 and alone.embedder_threads(0) == 0  # a one-shot command keeps both
    assert CpuPolicy(cores=1).llm_threads(0) == 1


def test_gguf_cache_is_complete_and_keyed_by_hash() -> None:
    from assistant.models.gguf_cache import cache_dir_for, gguf_sha256, is_complete

    gguf = embedded_gguf_path()
    assert gguf is not None
    directory = cache_dir_for(gguf)
    assert gguf_sha256(gguf)[:16] in directory.name
    if is_complete(directory):  # converted by an earlier test or run: the cache must be whole
        assert (directory / "model.safetensors").stat().st_size > 100_000_000
        assert (directory / "tokenizer.json").is_file()


@pytest.mark.slow
def test_interrupted_conversion_leaves_no_partial_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conversion that fails half way (here: the weights step raises) leaves nothing behind."""
    from assistant.models import gguf_cache

    monkeypatch.setenv("REPO_ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    gguf = embedded_gguf_path()
    assert gguf is not None

    def broken(src: Path, out: Path, say: object) -> None:
        (out / "config.json").write_text("{}")  # some files already written...
        raise KeyboardInterrupt  # ...then the user presses Ctrl-C

    monkeypatch.setattr(gguf_cache, "_convert", broken)
    with pytest.raises(KeyboardInterrupt):
        gguf_cache.ensure_converted(gguf)
    models = tmp_path / "cache" / "models"
    assert [p.name for p in models.iterdir()] == ["gguf-hashes.json"]


def test_models_command_lists_presets_as_json() -> None:
    result = run_cli("models", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = {p["name"] for p in data["presets"]}
    assert {"smollm2-135m", "qwen2.5-coder-32b", "codellama-34b-instruct"} <= names
    current = [p for p in data["presets"] if p["current"]]
    assert [p["name"] for p in current] == ["smollm2-135m"]
    table = run_cli("models", timeout=60)
    assert "qwen2.5-coder-7b" in table.stdout and "4-bit" in table.stdout


def test_token_counter_reads_tokenizer_json_without_transformers_and_counts_the_same() -> None:
    """Budgets are counted without importing transformers (seconds per CLI call), with identical counts."""
    import subprocess
    import sys

    from assistant.models.resolve import load_tokenizer, resolve_source

    code = ("import sys; from base.config import ModelSettings; from assistant.models import token_counter; "
            "n = token_counter(ModelSettings())('def f(x):\\n    return x  # ü'); "
            "print(n, 'transformers' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]
    slow = load_tokenizer(resolve_source("smollm2-135m"))
    fast = token_counter(ModelSettings())
    texts = ["def f(x):\n    return x  # ü", "<|im_start|>user\nhi<|im_end|>", "  \t\n", "Ünïcödé 日本語 🙂",
             Path(__file__).read_text(encoding="utf-8")]
    assert int(out[0]) == len(slow.encode(texts[0], add_special_tokens=False))
    assert [fast(t) for t in texts] == [len(slow.encode(t, add_special_tokens=False)) for t in texts]
