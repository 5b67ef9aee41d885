"""The model layer's user-facing errors: unknown model offline, GPU-only options, out of memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.models import load_backend
from assistant.models.local import check_gpu_options, resolve_device
from base.config import ModelSettings
from base.errors import ConfigError, ModelError, ModelUnavailableError
from tests.conftest import run_cli


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_unknown_model_id_offline_names_the_id_and_the_way_out() -> None:
    with pytest.raises(ModelUnavailableError) as info:
        load_backend(ModelSettings(name="no-such-org/no-such-model-42"))
    line = info.value.one_line()
    assert "no-such-org/no-such-model-42" in line
    assert "local directory" in line and "\n" not in line


@pytest.mark.slow
def test_unknown_model_on_the_command_line_is_one_line(sample_repo_copy: Path) -> None:
    result = run_cli("complete", "shopcore/__init__.py:1", "--model", "no-such-org/no-such-model-42",
                     "--context", "none", cwd=sample_repo_copy, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("repo-assistant: error: cannot load model 'no-such-org/no-such-model-42'")
    assert "Traceback" not in result.stderr


def test_missing_paths_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="GGUF file not found"):
        load_backend(ModelSettings(name=str(tmp_path / "missing.gguf")))
    with pytest.raises(ModelUnavailableError, match=r"no config\.json"):
        load_backend(ModelSettings(name=str(tmp_path)))
    with pytest.raises(ModelUnavailableError, match="model path not found"):
        load_backend(ModelSettings(name="./nowhere/model"))
    with pytest.raises(ConfigError, match=r"model\.backend"):
        load_backend(ModelSettings(backend="ollama"))
    with pytest.raises(ConfigError, match="base_url"):
        load_backend(ModelSettings(backend="openai"))


@pytest.mark.skipif("_cuda()", reason="checks the message on machines without CUDA")
@pytest.mark.parametrize("change, message", [
    ({"quantization": "4bit"}, "4bit .*needs a CUDA GPU"),
    ({"quantization": "8bit"}, "8bit .*needs a CUDA GPU"),
    ({"attn_implementation": "flash_attention_2"}, "flash_attention_2 needs a CUDA GPU"),
])
def test_gpu_only_options_without_cuda(change: dict[str, str], message: str) -> None:
    settings = ModelSettings(**change)
    with pytest.raises(ModelError, match=message):
        check_gpu_options(settings, "cpu", None)


@pytest.mark.skipif("_cuda()", reason="checks the message on machines without CUDA")
def test_cuda_device_without_cuda_and_prequantised_checkpoints() -> None:
    with pytest.raises(ModelError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ModelError, match="AWQ-quantised and needs a CUDA GPU"):
        check_gpu_options(ModelSettings(), "cpu", "awq")
    with pytest.raises(ModelError, match=r"unknown model\.quantization"):
        check_gpu_options(ModelSettings(quantization="3bit"), "cpu", None)
    assert resolve_device("auto") in {"cpu", "mps"}


@pytest.mark.slow
@pytest.mark.skipif("_cuda()", reason="checks the message on machines without CUDA")
def test_gpu_only_option_through_load_backend() -> None:
    with pytest.raises(ModelError, match="needs a CUDA GPU"):
        load_backend(ModelSettings(quantization="4bit"))


def test_bad_rope_scaling_json() -> None:
    from assistant.models.resolve import parse_rope_scaling

    assert parse_rope_scaling('{"type": "yarn", "factor": 4}') == {"type": "yarn", "factor": 4}
    assert parse_rope_scaling("") is None
    with pytest.raises(ConfigError, match="rope_scaling"):
        parse_rope_scaling("{yarn")


@pytest.mark.slow
def test_out_of_memory_on_load_is_a_clear_error(tmp_path: Path) -> None:
    """A real allocation failure: a config whose embedding alone needs 128 TiB (above any address space)."""
    import torch
    from safetensors.torch import save_file

    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4_194_304,
        "intermediate_size": 16, "num_attention_heads": 32, "num_key_value_heads": 32, "num_hidden_layers": 0,
        "vocab_size": 8_388_608, "max_position_embeddings": 4096, "tie_word_embeddings": True,
    }))
    save_file({"unused.weight": torch.zeros(1)}, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelError, match="out of memory loading") as info:
        load_backend(ModelSettings(name=str(tmp_path)))
    assert "quantization" in info.value.one_line()


def test_rope_scaling_is_passed_through_and_widens_the_window() -> None:
    from transformers import LlamaConfig

    from assistant.models.local import _apply_rope_scaling

    config = LlamaConfig(max_position_embeddings=32768, hidden_size=64, num_attention_heads=4,
                         num_hidden_layers=1, intermediate_size=128)
    window = _apply_rope_scaling(config, {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768})
    assert window == 131072
    assert config.rope_parameters["rope_type"] == "yarn" and config.rope_parameters["factor"] == 4.0


def test_http_backend_headers_and_urls() -> None:
    from assistant.models.openai_http import OpenAIBackend, normalise_base_url

    backend = OpenAIBackend("http://127.0.0.1:9", "m", api_key="sekret")
    assert backend._client.headers["Authorization"] == "Bearer sekret"
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    with pytest.raises(ConfigError):
        normalise_base_url("h:8000")
