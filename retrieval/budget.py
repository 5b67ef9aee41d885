"""How many tokens a context may take, and a safe token count when no tokenizer is at hand.

The budget is ``min(configured, model context window) − answer reserve``, where
*configured* is the ``--budget`` flag if given, else ``retrieval.budget`` (16,000 by
default).  A small model on a CPU prefills slowly (the embedded SmolLM2-135M has an
8K window but takes seconds per thousand prompt tokens), so callers may pass a
``default_cap`` that lowers the *default* configured budget for such a model; an
explicit budget (flag or setting) is never capped.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import RetrievalSettings

# The default context budget (before the answer reserve) for the embedded CPU model.
SMALL_CPU_MODEL_BUDGET = 4_096
ESTIMATE_NAME = "estimate (UTF-8 bytes / 3, over-counts)"


def estimate_tokens(text: str) -> int:
    """A token count that is never below a BPE tokenizer's for code and English.

    Code tokenizers average 3.5 to 4.5 bytes per token; dividing by 3 over-counts, so a
    budget met with this count is met with the real tokenizer too.
    """
    return len(text.encode("utf-8")) // 3 + 1 if text else 0


@dataclass(frozen=True)
class Budget:
    """The effective budget and the terms it came from (for the CLI's explanation)."""

    tokens: int
    configured: int
    context_window: int
    reserve: int
    capped: bool = False

    def explain(self) -> str:
        cap = " (default for a small CPU model)" if self.capped else ""
        return (f"{self.tokens} tokens = min({self.configured} configured{cap}, {self.context_window} model window)"
                f" − {self.reserve} answer reserve")


def effective_budget(
    settings: RetrievalSettings,
    context_window: int,
    requested: int | None = None,
    *,
    explicit: bool = False,
    default_cap: int | None = None,
) -> Budget:
    """The context budget for a model with ``context_window`` tokens.

    ``requested`` is a ``--budget`` flag; ``explicit`` says ``retrieval.budget`` was set
    by the user (not the default), in which case ``default_cap`` does not apply.
    """
    configured = requested if requested is not None else settings.budget
    capped = False
    if requested is None and not explicit and default_cap is not None and default_cap < configured:
        configured, capped = default_cap, True
    window = context_window if context_window > 0 else configured
    tokens = max(0, min(configured, window) - max(0, settings.answer_reserve))
    return Budget(tokens, configured, window, settings.answer_reserve, capped)
