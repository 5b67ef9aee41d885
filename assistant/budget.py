"""The one budget rule: how many tokens of context a prompt may take, for every task.

``repo-assistant context`` promises to show exactly what the model would see, so it,
``ask``, ``explain``, ``complete``, ``patch``, the TUI and the MCP server must agree on
the budget.  They all call :func:`task_budget`; what differs between tasks is one row
of :data:`BUDGET_TABLE`.

The arithmetic, for a task whose row is ``rule``::

    configured = --budget flag, else the row's setting (retrieval.budget or
                 retrieval.completion_budget); the *default* setting is lowered to
                 rule.cpu_cap when the model runs on a CPU (the first token waits for
                 the whole prompt: the 135M model prefills ~1K tokens a second)
    window     = model.context_window if set, else the model's own window
    reserve    = answer + prompt + PROMPT_MARGIN_TOKENS
                 answer: the most tokens the model writes (the row's model setting),
                 or retrieval.answer_reserve when the row keeps it and it is larger
                 prompt: instructions, history, the question, what the caller measured
    tokens     = min(configured, window) − reserve, raised to rule.floor (within the
                 window less the answer) when a long prompt leaves less

An explicit budget (the flag, or a setting other than the default) is never capped.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from base.config import RetrievalSettings, Settings

log = logging.getLogger(__name__)

# Tokens kept free beside the counted prompt: chat templates add a few special tokens
# per message that counting the message texts does not see.
PROMPT_MARGIN_TOKENS = 32


@dataclass(frozen=True)
class BudgetRule:
    """One task's row of the budget table."""

    setting: str  # the RetrievalSettings field that configures the budget
    cpu_cap: int  # the default budget on a CPU
    answer_setting: str  # the ModelSettings field with the most tokens the model writes
    keep_answer_reserve: bool  # also keep retrieval.answer_reserve free (long Markdown answers)
    floor: int  # never less context than this (a tiny window still gets its closest code)


BUDGET_TABLE: dict[str, BudgetRule] = {
    # Questions and explanations: a Markdown answer of up to answer_reserve tokens.
    "chat": BudgetRule("budget", 3_072, "max_new_tokens", True, 256),
    "explain": BudgetRule("budget", 3_072, "max_new_tokens", True, 256),
    # A patch prompt must hold whole files, so it gets more room on a CPU than a chat.
    "patch": BudgetRule("budget", 4_096, "max_new_tokens", False, 0),
    # Inline completion: latency first, a few lines of answer.
    "complete": BudgetRule("completion_budget", 2_048, "completion_tokens", False, 128),
}
TASKS = tuple(BUDGET_TABLE)


@dataclass(frozen=True)
class Budget:
    """The effective budget and the terms it came from (for the CLI's explanation)."""

    tokens: int
    configured: int
    context_window: int
    reserve: int  # room for the answer and the rest of the prompt, together
    capped: bool = False
    prompt: int = 0  # of the reserve: tokens already spent on instructions, history and question
    task: str = "chat"

    def explain(self) -> str:
        cap = " (default for a model on a CPU)" if self.capped else ""
        return (f"{self.tokens} tokens = min({self.configured} configured{cap}, {self.context_window} model window)"
                f" − {self.reserve} answer reserve" + (f" and prompt ({self.prompt} tokens)" if self.prompt else ""))


def on_cpu(device: str) -> bool:
    """Whether ``device`` (``cpu``, ``cuda:0``, ``remote``...) prefills on this machine's CPU."""
    return str(device).split(":", 1)[0] == "cpu"


def task_budget(settings: Settings, task: str, *, window: int, device: str, prompt_tokens: int = 0,
                requested: int | None = None, answer_tokens: int | None = None) -> Budget:
    """The context budget for ``task`` with a model of ``window`` tokens running on ``device``.

    ``prompt_tokens`` is what the rest of the prompt already takes (instructions, history,
    the question); ``requested`` is a ``--budget`` flag; ``answer_tokens`` overrides the most
    tokens the model writes (a ``--max-tokens`` flag).  See the module docstring.
    """
    rule = BUDGET_TABLE[task]
    setting = int(getattr(settings.retrieval, rule.setting))
    default = int(getattr(RetrievalSettings(), rule.setting))
    configured = requested if requested is not None else setting
    capped = False
    if requested is None and setting == default and on_cpu(device) and rule.cpu_cap < configured:
        configured, capped = rule.cpu_cap, True
    window = settings.model.context_window or window
    window = window if window > 0 else configured
    answer = answer_tokens or int(getattr(settings.model, rule.answer_setting))
    if rule.keep_answer_reserve:
        answer = max(answer, settings.retrieval.answer_reserve)
    prompt = max(0, prompt_tokens) + PROMPT_MARGIN_TOKENS
    reserve = answer + prompt
    tokens = max(0, min(configured, window) - reserve)
    if tokens < rule.floor:  # a long history or question: keep the closest code, within the window
        tokens = max(tokens, min(rule.floor, window - answer - PROMPT_MARGIN_TOKENS))
    return Budget(tokens, configured, window, reserve, capped, prompt, task)


def expected_device(settings: Settings) -> str:
    """Where the configured model would run, without loading it (``remote`` for an HTTP endpoint).

    ``auto`` on a machine with no GPU device node (and not a Mac, which may have MPS) is
    the CPU without asking torch: importing it costs seconds at every CLI call.
    """
    if settings.model.backend == "openai":
        return "remote"
    wanted = settings.model.device.strip().lower() or "auto"
    if wanted == "cpu" or (wanted == "auto" and not _may_have_accelerator()):
        return "cpu"
    try:
        from assistant.models.local import resolve_device

        return resolve_device(settings.model.device)
    except Exception as exc:  # an impossible device fails later, when the model loads
        log.info("cannot resolve model.device=%s: %s", settings.model.device, exc)
        return "cpu"


def _may_have_accelerator() -> bool:
    """Whether torch could find a GPU here: an NVIDIA or ROCm device node, or macOS (MPS)."""
    if sys.platform == "darwin":
        return True
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists() or (dev / "dxg").exists()
