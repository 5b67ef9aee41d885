"""``index.embedding_device``: a GPU embeds in torch (fp16 on CUDA); without one, a clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from base.devices import _gpu_driver_present, resolve_device
from base.errors import IndexingError
from indexer.embedder import load_embedder
from tests.conftest import run_cli


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(_gpu_driver_present(), reason="checks the CPU-only path of a machine without a GPU driver")
def test_auto_is_the_cpu_without_importing_torch() -> None:
    code = ("import sys\nfrom base.devices import resolve_device\nfrom base.errors import IndexingError\n"
            "print(resolve_device('auto', key='index.embedding_device', error=IndexingError, driver_check=True),\n"
            "      'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["cpu", "False"]  # an index run on a CPU pays no torch import for the check


@pytest.mark.parametrize(("setting", "message"), [("cuda", "CUDA is not available"), ("cuda:1", "CUDA"),
                                                  ("tpu", "unknown index.embedding_device 'tpu'")])
def test_a_device_that_is_not_there_is_one_clear_error(setting: str, message: str) -> None:
    if setting.startswith("cuda") and _cuda():
        pytest.skip("this machine has CUDA")
    with pytest.raises(IndexingError, match=message) as caught:
        load_embedder("all-MiniLM-L6-v2", device=setting)
    assert caught.value.hint and "index.embedding_device" in str(caught.value) + caught.value.hint
    assert resolve_device("cpu", key="index.embedding_device", error=IndexingError) == "cpu"


@pytest.mark.skipif("_cuda()", reason="checks the message on machines without CUDA")
def test_cli_index_on_a_missing_gpu_says_so_in_one_line(sample_repo_copy: Path) -> None:
    out = run_cli("index", str(sample_repo_copy), "--set", "index.embedding_device=cuda")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    assert "index.embedding_device=cuda but CUDA is not available" in out.stderr + out.stdout
    search = run_cli("search", "--repo", str(sample_repo_copy), "--mode", "bm25", "price of an order")
    assert search.returncode == 0 and "shopcore" in search.stdout  # BM25 was committed before the embedder failed


@pytest.mark.skipif("not _cuda()", reason="needs a CUDA GPU")
def test_cuda_embeds_in_fp16_close_to_the_cpu_reference() -> None:
    texts = [f"def handler_{i}(request):\n    return render(request, 'page_{i}.html', {{'n': {i}}})" for i in range(600)]
    gpu = load_embedder("all-MiniLM-L6-v2", backend="auto", device="cuda")
    cpu = load_embedder("all-MiniLM-L6-v2", backend="torch", device="cpu")
    assert gpu.flavour == "torch-fp16" and gpu.fingerprint != cpu.fingerprint  # cached apart from CPU vectors
    cosine = np.sum(gpu.embed(texts) * cpu.embed(texts), axis=1)
    assert cosine.min() >= 0.99
