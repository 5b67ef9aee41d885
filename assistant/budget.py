"""The one rule for how many tokens of retrieved context a prompt may take.

``repo-assistant context`` promises to show exactly what the model would see, so it,
``ask``, ``explain``, ``patch`` and the TUI must agree on the budget.  They all call
:func:`context_budget`; the arithmetic itself (configured budget, model window,
answer reserve, CPU default cap) lives in :func:`retrieval.budget.effective_budget`.
"""

from __future__ import annotations

import logging

from base.config import RetrievalSettings, Settings
from retrieval.budget import SMALL_CPU_MODEL_BUDGET, Budget, effective_budget

log = logging.getLogger(__name__)


def context_budget(settings: Settings, *, window: int, device: str, prompt_tokens: int = 0,
                   requested: int | None = None) -> Budget:
    """The context budget for a model with ``window`` tokens running on ``device``.

    ``requested`` is a ``--budget`` flag.  A ``retrieval.budget`` other than the default
    counts as explicit and is never lowered; the default is capped on a CPU, where the
    first token waits for the whole prompt.
    """
    explicit = settings.retrieval.budget != RetrievalSettings().budget
    cap = SMALL_CPU_MODEL_BUDGET if device == "cpu" else None
    return effective_budget(settings.retrieval, settings.model.context_window or window, requested,
                            explicit=explicit, default_cap=cap, answer_tokens=settings.model.max_new_tokens,
                            prompt_tokens=prompt_tokens)


def expected_device(settings: Settings) -> str:
    """Where the configured model would run, without loading it (``remote`` for an HTTP endpoint)."""
    if settings.model.backend == "openai":
        return "remote"
    try:
        from assistant.models.local import resolve_device

        return resolve_device(settings.model.device)
    except Exception as exc:  # an impossible device fails later, when the model loads
        log.info("cannot resolve model.device=%s: %s", settings.model.device, exc)
        return "cpu"
