"""How many tokens a context may take, and a safe token count when no tokenizer is at hand.

The budget is ``min(configured, model context window) − reserve``, where *configured*
is the ``--budget`` flag if given, else ``retrieval.budget`` (16,000 by default), and
the reserve is the room for the answer (``retrieval.answer_reserve`` or the model's
``max_new_tokens``, whichever is larger) plus the prompt tokens already spent on
instructions, history and the question.  A model on a CPU prefills slowly (the
embedded SmolLM2-135M has an 8K window but takes seconds per thousand prompt tokens),
so callers pass a ``default_cap`` that lowers the *default* configured budget there;
an explicit budget (flag or setting) is never capped.  :func:`assistant.budget.context_budget`
is the one place that decides these inputs for every command and the TUI.
"""

from __future__ import annotations

from dataclasses import dataclass

from base.config import RetrievalSettings

# The default context budget (before the reserve) for a model running on a CPU: with the
# 1,024-token answer reserve it leaves ~2K tokens of context (first token ~5 s for the 135M model).
SMALL_CPU_MODEL_BUDGET = 3_072
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
    reserve: int  # room for the answer and the rest of the prompt, together
    capped: bool = False
    prompt: int = 0  # of the reserve: tokens already spent on instructions, history and question

    def explain(self) -> str:
        cap = " (default for a model on a CPU)" if self.capped else ""
        return (f"{self.tokens} tokens = min({self.configured} configured{cap}, {self.context_window} model window)"
                f" − {self.reserve} answer reserve" + (f" and prompt ({self.prompt} tokens)" if self.prompt else ""))


def effective_budget(
    settings: RetrievalSettings,
    context_window: int,
    requested: int | None = None,
    *,
    explicit: bool = False,
    default_cap: int | None = None,
    answer_tokens: int = 0,
    prompt_tokens: int = 0,
) -> Budget:
    """The context budget for a model with ``context_window`` tokens.

    ``requested`` is a ``--budget`` flag; ``explicit`` says ``retrieval.budget`` was set
    by the user (not the default), in which case ``default_cap`` does not apply.
    ``answer_tokens`` is the most the model will generate, ``prompt_tokens`` what the
    rest of the prompt already takes.
    """
    configured = requested if requested is not None else settings.budget
    capped = False
    if requested is None and not explicit and default_cap is not None and default_cap < configured:
        configured, capped = default_cap, True
    window = context_window if context_window > 0 else configured
    prompt = max(0, prompt_tokens)
    reserve = max(0, settings.answer_reserve, answer_tokens) + prompt
    tokens = max(0, min(configured, window) - reserve)
    return Budget(tokens, configured, window, reserve, capped, prompt)
