"""Which torch device a setting such as ``model.device`` or ``index.embedding_device`` names.

One rule for the code model and the embedder: ``auto`` takes a CUDA GPU, then an Apple GPU,
then the CPU; an explicit GPU device must exist, and a wrong one is a one-line error that
names the setting, never a traceback from deep inside torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

from base.errors import AssistantError

# What a machine with a GPU torch can use has: an NVIDIA driver (WSL2's /dev/dxg, Jetson's nvhost), ROCm's
# /dev/kfd, or macOS (Apple GPUs).
_GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg", "/dev/nvhost-ctrl-gpu", "/dev/kfd")


def _gpu_driver_present() -> bool:
    return sys.platform == "darwin" or any(Path(p).exists() for p in _GPU_DRIVER_FILES)


def resolve_device(setting: str, *, key: str, error: type[AssistantError], driver_check: bool = False) -> str:
    """``auto`` → cuda, then mps, then cpu; ``cuda``, ``cuda:N`` and ``mps`` must be available.

    ``key`` is the setting's name (for the message), ``error`` the error to raise.  With
    ``driver_check``, ``auto`` on a machine without a GPU driver is the CPU without importing
    torch (1-2 s): for a caller that would otherwise never import it (the ONNX embedder); a GPU
    the driver list does not know then runs on the CPU, slower but right.
    """
    wanted = setting.strip().lower() or "auto"
    if wanted == "cpu" or (wanted == "auto" and driver_check and not _gpu_driver_present()):
        return "cpu"
    import torch

    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise error(f"{key}={setting} but CUDA is not available on this machine", hint=f"set {key}=auto (or cpu)")
        if ":" in wanted:
            index = wanted.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise error(f"{key}={setting} but only {torch.cuda.device_count()} CUDA device(s) exist",
                            hint="use cuda:0 … cuda:N-1")
        return wanted
    if wanted == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise error(f"{key}=mps but MPS (Apple GPU) is not available", hint=f"set {key}=auto")
        return "mps"
    raise error(f"unknown {key} '{setting}'", hint="use auto, cpu, cuda, cuda:N or mps")
