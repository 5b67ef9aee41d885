"""Setting torch's thread count for one generation, as the process's CPU policy says.

The policy itself (who gets the cores when the LLM and the embedder share them) is
:class:`base.cpu.CpuPolicy`, owned by the feature service and handed to the backend.
"""

from __future__ import annotations

from base.cpu import CpuPolicy


def apply_threads(policy: CpuPolicy, setting: int) -> int:
    """Set torch's intra-op thread count for ``model.threads`` under ``policy``; returns the count used."""
    import torch

    count = policy.llm_threads(setting)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
